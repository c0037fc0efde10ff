"""Recipes end to end: TIMIT CTC on an LDC-layout tree built like the TIMIT sample (from the
synthetic corpus), free_english_ctc on stand-ins of its corpora built the same way."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import FSDD_DIGITS
from tests.layouts import ldc_tree, librispeech_tree, speechocean762_corpus

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
def test_free_english_recipe_runs_end_to_end(tmp_path, synth_corpus, timit_sample):
    """run.sh on stand-ins of its corpora: the small synthetic corpus's voices as LibriSpeech
    and speechocean762 speakers, the FSDD fixtures, the TIMIT sample's layout; its own
    synthetic corpus is synthesised (about 30 s)."""
    pytest.importorskip("pocketsphinx", reason="the recipe scores the peer: pip install "
                                               "'phonelstm[peer]'")
    librispeech = librispeech_tree(tmp_path / "ls", synth_corpus)
    so762 = speechocean762_corpus(tmp_path / "so762", synth_corpus)
    work = tmp_path / "work"
    (work / "recipes" / "free_english_ctc").mkdir(parents=True)
    for name in ("free_english_ctc/run.sh", "free_english_ctc/phase2.sh",
                 "free_english_ctc/score.sh", "path.sh"):
        shutil.copy(ROOT / "recipes" / name, work / "recipes" / name)
    readme = work / "recipes/free_english_ctc/README.md"
    readme.write_text("<!-- results:begin -->\n<!-- results:end -->\n")
    (work / "scripts").symlink_to(ROOT / "scripts")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON": sys.executable,
           "LIBRISPEECH": str(librispeech), "SPEECHOCEAN762": str(so762),
           "FSDD": str(FSDD_DIGITS), "TIMIT_SAMPLE": str(timit_sample)}
    result = subprocess.run(
        ["bash", "recipes/free_english_ctc/run.sh", "model.layers=1", "model.hidden=16",
         "trainer.max_epochs=1", "trainer.beam=2"],
        cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    exp = work / "exp" / "librispeech"
    first, run = exp / "free_english_ctc", exp / "free_english_ctc_avg"  # run: shipped
    assert json.loads((first / "results.json").read_text())["epochs"] == 1
    noise, speed = (json.loads((exp / f"free_english_ctc_{r}" / "results.json").read_text())
                    for r in ("noise", "speed"))
    assert noise["weight_noise"] == speed["weight_noise"] == 0.03
    for r in ("digits", "vtlp_trim"):
        assert (exp / f"free_english_ctc_{r}" / "results.json").is_file()
    augment = OmegaConf.load(exp / "free_english_ctc_vtlp_trim" / ".hydra" / "config.yaml")
    assert augment.data.augment.vtlp == 0.1 and augment.data.augment.trim_prob == 0.5
    assert "the mean of 9 checkpoints" in result.stdout
    assert (work / "data" / "librispeech" / "train_variants.jsonl").is_file()
    summary = json.loads((run / "timit_sample_beam16" / "summary.json").read_text())
    assert summary["utterances"] == 64
    assert json.loads((run / "digits_test_beam16.json").read_text())["utterances"] == 3
    peer = json.loads((exp / "pocketsphinx" / "timit_sample_beam1" / "summary.json")
                      .read_text())
    assert peer["utterances"] == 64
    table = readme.read_text()
    for row in ("free_english_ctc", "free_english_ctc_noise", "free_english_ctc_speed",
                "free_english_ctc_digits", "free_english_ctc_vtlp_trim", "free_english_ctc_avg",
                "pocketsphinx"):
        assert f"| exp/librispeech/{row} |" in table
    for column in ("timit_sample beam", "librispeech_dev beam", "librispeech_test beam",
                   "speechocean762_dev beam",
                   "test digits grammar"):
        assert column in table
