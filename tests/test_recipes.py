"""Recipes end to end: TIMIT CTC on an LDC-layout tree built like the TIMIT sample (from the
synthetic corpus), free_english_ctc on small copies of its corpora."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.layouts import ldc_tree

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_timit_ctc_recipe_runs_on_an_ldc_tree(tmp_path, timit_sample):
    # two sample speakers stand in for a dev and a core-test speaker
    tree = ldc_tree(tmp_path, timit_sample, {"falr0": ("TEST", "faks0"),
                                             "maeb0": ("TEST", "mdab0")})
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


@pytest.mark.slow
def test_free_english_recipe_runs_end_to_end(tmp_path):
    """run.sh on small copies of its corpora: speechocean762 (8 speakers), FSDD (the four
    speakers, 5 recordings each), the TIMIT sample; the synthetic corpus is synthesised
    (about 30 s)."""
    from tests.conftest import FSDD, TIMIT_SAMPLE
    from tests.test_speechocean762 import SO762, SPEAKERS, build_tree

    if not (SO762.is_dir() and FSDD.is_dir()):
        pytest.skip("needs ../shared/data")

    so762 = build_tree(tmp_path / "so762", SPEAKERS)
    fsdd = tmp_path / "fsdd" / "recordings"
    fsdd.mkdir(parents=True)
    for wav in sorted(FSDD.glob("recordings/*_*_[0-4].wav")):
        if wav.name[0] in "07":
            (fsdd / wav.name).symlink_to(wav)
    work = tmp_path / "work"
    (work / "recipes" / "free_english_ctc").mkdir(parents=True)
    for name in ("free_english_ctc/run.sh", "path.sh"):
        shutil.copy(ROOT / "recipes" / name, work / "recipes" / name)
    readme = work / "recipes/free_english_ctc/README.md"
    readme.write_text("<!-- results:begin -->\n<!-- results:end -->\n")
    (work / "scripts").symlink_to(ROOT / "scripts")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON": sys.executable,
           "SPEECHOCEAN762": str(so762), "FSDD": str(tmp_path / "fsdd"),
           "TIMIT_SAMPLE": str(TIMIT_SAMPLE)}
    result = subprocess.run(
        ["bash", "recipes/free_english_ctc/run.sh", "model.layers=1", "model.hidden=16",
         "trainer.max_epochs=1", "trainer.beam=2"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    first = work / "exp" / "speechocean762" / "free_english_ctc"
    run = first.with_name("free_english_ctc_noise")  # the weight-noise phase, shipped
    assert json.loads((first / "results.json").read_text())["epochs"] == 1
    assert json.loads((run / "results.json").read_text())["weight_noise"] == 0.03
    assert json.loads((run / "timit_sample_beam16" / "summary.json").read_text())[
        "utterances"] == 64
    assert json.loads((run / "digits_test_beam16.json").read_text())["utterances"] == 10
    assert "| exp/speechocean762/free_english_ctc |" in readme.read_text()
    assert "| exp/speechocean762/free_english_ctc_noise |" in readme.read_text()
    assert "timit_sample beam" in readme.read_text()
    assert "test digits grammar" in readme.read_text()
