"""The TIMIT CTC recipe end to end on an LDC-layout tree built from the TIMIT sample."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_timit_ctc_recipe_runs_on_an_ldc_tree(tmp_path):
    pytest.importorskip("phonelstm.data.timit")
    from tests.test_corpora import build_ldc_tree

    # two sample speakers stand in for a dev and a core-test speaker
    tree = build_ldc_tree(tmp_path, {"falr0": ("TEST", "faks0"), "maeb0": ("TEST", "mdab0")})
    # a copy of the recipe in a scratch project, so data/, exp/ and the README it rewrites
    # are the scratch project's
    work = tmp_path / "work"
    (work / "recipes" / "timit_ctc").mkdir(parents=True)
    shutil.copy(ROOT / "recipes/timit_ctc/run.sh", work / "recipes/timit_ctc/run.sh")
    shutil.copy(ROOT / "recipes/path.sh", work / "recipes/path.sh")
    readme = work / "recipes/timit_ctc/README.md"
    readme.write_text("<!-- results:begin -->\n<!-- results:end -->\n")
    (work / "scripts").symlink_to(ROOT / "scripts")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", "recipes/timit_ctc/run.sh", str(tree), "blstm_1x250", "model.hidden=16",
         "model.stack_frames=3", "trainer.max_epochs=1", "trainer.beam=4"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {p.parent.name: json.loads(p.read_text())
            for p in (work / "exp" / "timit").glob("*/results.json")}
    assert set(rows) == {"ctc_lstm_1x16_fbank", "ctc_lstm_1x16_fbank_noise"}
    assert rows["ctc_lstm_1x16_fbank_noise"]["weight_noise"] == 0.075
    assert all("test_beam" in r and r["beam"] == 4 for r in rows.values())
    assert readme.read_text().count("| exp/timit/ctc_lstm_1x16_fbank") == 2
