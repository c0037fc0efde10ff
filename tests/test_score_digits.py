"""scripts/score_digits.py on a manifest of digit recordings from anywhere."""

import json
import subprocess
import sys
from pathlib import Path

from phonelstm.data.fsdd import digit_lexicon
from phonelstm.data.manifest import Utterance, write_manifest
from tests.conftest import FSDD_DIGITS

ROOT = Path(__file__).resolve().parents[1]


def test_score_digits_takes_a_manifest(trained_checkpoints, tmp_path):
    lexicon = digit_lexicon()
    utts = [Utterance(f"d{i}", str(FSDD_DIGITS / "recordings" / f"{i}_nicolas_0.wav"),
                      "nicolas", lexicon[str(i)][1][0]) for i in range(3)]
    write_manifest(tmp_path / "digits.jsonl", utts)
    beside = sorted(trained_checkpoints["ctc"].parent.iterdir())
    result = subprocess.run([sys.executable, "scripts/score_digits.py",
                             str(trained_checkpoints["ctc"]), "--manifest",
                             str(tmp_path / "digits.jsonl"), "--device", "cpu",
                             "--out", str(tmp_path / "report")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digits: PER") and "digit accuracy" in result.stdout
    assert "ten-digit grammar" in result.stdout
    report = json.loads((tmp_path / "report" / "digits_digits_beam1.json").read_text())
    assert report["utterances"] == 3 and 0 <= report["grammar_accuracy"] <= 100
    assert sorted(trained_checkpoints["ctc"].parent.iterdir()) == beside
