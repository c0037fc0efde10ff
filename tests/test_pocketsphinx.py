"""scripts/pocketsphinx_phones.py: the peer baseline's phones, scored by phonelstm-evaluate."""

import subprocess
import sys
from pathlib import Path

import pytest

from phonelstm.data.manifest import Utterance, write_manifest
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "phonelstm" / "pretrained" / "examples"
sys.path.insert(0, str(ROOT / "scripts"))
from pocketsphinx_phones import to_timit  # noqa: E402


def test_pocketsphinx_phones_in_timit_conventions() -> None:
    assert to_timit(["SIL", "T", "UW", "+NSN+", "K", "AE", "T", "SIL"], "x") == [
        "h#", "t", "uw", "h#", "k", "ae", "tcl", "t", "h#"]
    assert to_timit(["CH", "ER"], "x") == ["h#", "ch", "er", "h#"]
    assert to_timit(["AY", "CH"], "x") == ["h#", "ay", "tcl", "ch", "h#"]


def test_pocketsphinx_on_a_manifest(tmp_path: Path) -> None:
    pytest.importorskip("pocketsphinx", reason="pip install 'phonelstm[peer]'")
    references = dict(line.split(maxsplit=1)
                      for line in (EXAMPLES / "references.txt").read_text().splitlines())
    manifest = tmp_path / "examples.jsonl"
    write_manifest(manifest, [Utterance(f"ex_{i}", str(EXAMPLES / name), "ex", phones.split())
                              for i, (name, phones) in enumerate(sorted(references.items()))])
    result = subprocess.run([sys.executable, "scripts/pocketsphinx_phones.py", str(manifest),
                             "--out", str(tmp_path / "ps")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pocketsphinx: 2 utterances")
    hyps = (tmp_path / "ps" / "hyp.txt").read_text().splitlines()
    assert [h.split()[0] for h in hyps] == ["ex_0", "ex_1"]
    assert all(h.split()[1] == h.split()[-1] == "h#" for h in hyps)
    scored = run_cli("evaluate", f"hyp={tmp_path / 'ps' / 'hyp.txt'}",
                     f"ref={tmp_path / 'ps' / 'ref.txt'}", f"out={tmp_path / 'report'}",
                     cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "over 2 utterances" in scored.stdout
