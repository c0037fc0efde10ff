"""phonelstm-evaluate: hand-checked counts, report files, checkpoint mode, errors."""

import json

import pytest

from phonelstm.config import EvaluateConfig
from phonelstm.data.manifest import read_manifest
from phonelstm.evaluate import EvaluateError, evaluate
from tests.conftest import run_cli

REF = """spk1_u1 sh iy hh ae d
spk1_u2 b ae t
spk2_u3 k ae t
spk2_u4 ao
"""
# u1: ae -> eh (sub); u2: s inserted; u3: ae and t deleted; u4: ao = aa once folded to 39
HYP = """spk1_u1 sh iy hh eh d
spk1_u2 b ae t s
spk2_u3 k
spk2_u4 aa
"""


def test_hand_checked_counts(tmp_path):
    (tmp_path / "ref.txt").write_text(REF)
    (tmp_path / "hyp.txt").write_text(HYP)
    result = run_cli("evaluate", "hyp=hyp.txt", "ref=ref.txt", "out=report", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "PER 33.33% (4 errors / 12 phones: 1 sub, 2 del, 1 ins)" in result.stdout
    report = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert (report["ref_phones"], report["sub"], report["del"], report["ins"]) == (12, 1, 2, 1)
    assert report["speakers"]["spk1"]["per"] == 25.0 and report["speakers"]["spk2"]["per"] == 50.0
    assert report["phones"]["ae"] == {"count": 3, "correct": 1, "sub": 1, "del": 1, "ins": 0,
                                      "error_rate": pytest.approx(66.667)}
    assert report["phones"]["s"]["ins"] == 1
    assert {(c["ref"], c["hyp"], c["count"]) for c in report["confusions"]} == {
        ("ae", "eh", 1), ("ae", "*", 1), ("t", "*", 1), ("*", "s", 1)}
    assert (tmp_path / "report" / "confusion.png").stat().st_size > 1000
    assert (tmp_path / "report" / "summary.txt").read_text() in result.stdout
    # the scored hypotheses and references, one "<utt> <phones>" line each, folded as scored
    hyp_lines = (tmp_path / "report" / "hyp.txt").read_text().splitlines()
    ref_lines = (tmp_path / "report" / "ref.txt").read_text().splitlines()
    assert [line.split()[0] for line in hyp_lines] == [line.split()[0] for line in ref_lines]
    assert len(hyp_lines) == 4 and "spk2_u4 aa" in hyp_lines and "spk2_u4 aa" in ref_lines
    with pytest.raises(EvaluateError, match="overwrite=true"):
        evaluate(EvaluateConfig(hyp=str(tmp_path / "hyp.txt"), ref=str(tmp_path / "ref.txt"),
                                out=str(tmp_path / "report")))


def test_checkpoint_report_on_held_out_speaker(trained_checkpoints, sample_corpus, tmp_path):
    summary = evaluate(EvaluateConfig(checkpoint=str(trained_checkpoints["framewise"]),
                                      data=str(sample_corpus / "test.jsonl"),
                                      out=str(tmp_path / "r"), plot_utterances=2))
    assert summary["utterances"] == 10 and summary["ref_phones"] > 300
    assert 0 < summary["frame_accuracy"] < 100
    assert list(summary["speakers"]) == [read_manifest(sample_corpus / "test.jsonl")[0].speaker]
    pictures = sorted((tmp_path / "r" / "utterances").glob("*.png"))
    assert len(pictures) == 2 and all(p.stat().st_size > 1000 for p in pictures)
    assert (tmp_path / "r" / "confusion.png").stat().st_size > 1000


def test_needs_a_source(tmp_path):
    with pytest.raises(EvaluateError, match="checkpoint=<ckpt> data="):
        evaluate(EvaluateConfig(out=str(tmp_path / "r")))
