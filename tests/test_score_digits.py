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
    assert result.stdout.startswith("digits (beam 1): PER") and "digit accuracy" in result.stdout
    assert "ten-digit grammar" in result.stdout
    report = json.loads((tmp_path / "report" / "digits_digits_beam1.json").read_text())
    assert report["utterances"] == 3 and 0 <= report["grammar_accuracy"] <= 100
    assert sorted(trained_checkpoints["ctc"].parent.iterdir()) == beside


def test_score_sets_writes_each_report_from_one_load(trained_checkpoints, synth_corpus,
                                                     tmp_path):
    digits = tmp_path / "digits.jsonl"
    write_manifest(digits, [Utterance("d1", str(FSDD_DIGITS / "recordings" / "1_nicolas_0.wav"),
                                      "nicolas", digit_lexicon()["1"][1][0])])
    result = subprocess.run([sys.executable, "scripts/score_sets.py",
                             str(trained_checkpoints["ctc"]), str(tmp_path / "out"),
                             f"dev={synth_corpus / 'dev.jsonl'}:1,2",
                             f"test={synth_corpus / 'test.jsonl'}", "--digits", str(digits),
                             "--device", "cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for report in ("dev_beam1", "dev_beam2", "test_beam16"):
        summary = json.loads((tmp_path / "out" / report / "summary.json").read_text())
        assert summary["utterances"] > 0
    assert not list((tmp_path / "out" / "dev_beam1").glob("utterances"))
    for beam in (1, 16):
        assert (tmp_path / "out" / f"digits_digits_beam{beam}.json").is_file()


def test_score_sets_names_a_bad_set_in_one_line(trained_checkpoints, tmp_path):
    result = subprocess.run([sys.executable, "scripts/score_sets.py",
                             str(trained_checkpoints["ctc"]), str(tmp_path), "dev.jsonl:x"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "'dev.jsonl:x': expected <name>=<manifest.jsonl>" in result.stderr
