"""User mistakes give one clear line naming the key or file, and a non-zero exit."""

from pathlib import Path

import pytest

from .conftest import TIMIT_SAMPLE, run_cli

WAV = TIMIT_SAMPLE / "dr1-fvmh0" / "sa1.wav"


def _one_line_error(result, *needles):
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_unknown_config_key(tmp_path):
    result = run_cli("train", "model.nonsense=3", cwd=tmp_path)
    _one_line_error(result, "nonsense")
    assert result.returncode == 2


def test_missing_data_directory(tmp_path):
    result = run_cli("train", "data.corpus=manifest", f"data.dir={tmp_path}/nowhere",
                     cwd=tmp_path)
    _one_line_error(result, "data.dir", "nowhere")


def test_empty_data_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("train", "data.corpus=manifest", f"data.dir={tmp_path}/empty",
                     cwd=tmp_path)
    _one_line_error(result, "train.jsonl")


def test_missing_checkpoint(tmp_path):
    result = run_cli("decode", f"checkpoint={tmp_path}/none.pt", f"input={WAV}", cwd=tmp_path)
    _one_line_error(result, "none.pt", "not found")


def test_missing_input(tmp_path):
    result = run_cli("decode", f"checkpoint={tmp_path}/none.pt", "input=nothing.wav",
                     cwd=tmp_path)
    _one_line_error(result, "input=nothing.wav")


def test_missing_required_setting(tmp_path):
    result = run_cli("decode", cwd=tmp_path)
    _one_line_error(result, "checkpoint=")


@pytest.fixture(scope="module")
def tiny_checkpoint(sample_corpus, tmp_path_factory) -> Path:
    from phonelstm.config import DataConfig, ModelConfig, TrainConfig, TrainerConfig
    from phonelstm.training.loop import train

    out = tmp_path_factory.mktemp("tiny_exp")
    train(TrainConfig(data=DataConfig(name="s", corpus="manifest", dir=str(sample_corpus)),
                      model=ModelConfig(hidden=8, layers=1),
                      trainer=TrainerConfig(max_epochs=1, eval_test=False), out_dir=str(out)))
    return out / "best.pt"


def test_unreadable_wav(tiny_checkpoint, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    result = run_cli("decode", f"checkpoint={tiny_checkpoint}", f"input={bad}", cwd=tmp_path)
    _one_line_error(result, "broken.wav")


def test_not_a_checkpoint(tmp_path):
    fake = tmp_path / "fake.pt"
    fake.write_text("hello")
    result = run_cli("decode", f"checkpoint={fake}", f"input={WAV}", cwd=tmp_path)
    _one_line_error(result, "fake.pt")


def test_framewise_training_on_a_corpus_without_phone_times(tmp_path):
    result = run_cli("train", "data=fsdd", f"data.root={TIMIT_SAMPLE.parent / 'fsdd'}",
                     f"data.dir={tmp_path}/fsdd", "trainer.task=framewise",
                     "model.stack_frames=1", "debug=tiny", f"out_dir={tmp_path}/exp",
                     cwd=tmp_path)
    _one_line_error(result, "trainer.task=framewise", "phone times")
