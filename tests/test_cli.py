"""User mistakes give one clear line naming the key or file, and a non-zero exit."""

from pathlib import Path

import pytest

from phonelstm.pretrained import EXAMPLES

from .conftest import FSDD_DIGITS, run_cli

WAV = EXAMPLES / "fsdd_7_nicolas_0.wav"


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


@pytest.mark.parametrize("override,needles", [
    ("+model.hiden=3", ["unknown config key model.hiden", "did you mean model.hidden"]),
    ("trainer.max_epochs=abc", ["trainer.max_epochs=abc", "expected an integer"]),
    ("trainer.fast=maybe", ["trainer.fast=maybe", "expected true or false"]),
    ("model=nope", ["model=nope", "available:", "blstm_3x192", "fw_mlp"]),
])
def test_bad_override_is_one_line(tmp_path, override, needles):
    result = run_cli("train", override, cwd=tmp_path)
    _one_line_error(result, *needles)
    assert result.returncode == 2
    assert not (tmp_path / "data").exists()  # rejected before any work


@pytest.mark.parametrize("command,keys", [
    ("train", ["usage: phonelstm-train", "examples:", "model=", "trainer.max_epochs = 20",
               "data.corpus = synth", "synth | timit"]),
    ("decode", ["usage: phonelstm-decode", "examples:", "format = txt", "textgrid",
                "chunk_seconds"]),
    ("evaluate", ["usage: phonelstm-evaluate", "examples:", "hyp = null", "score_phones"]),
    ("prepare", ["usage: phonelstm-prepare", "examples:", "data=", "corpus = null"]),
])
def test_help_lists_the_commands_own_keys(tmp_path, command, keys):
    result = run_cli(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for key in keys:
        assert key in result.stdout, (key, result.stdout)


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


def test_decode_and_evaluate_leave_no_log_in_the_current_directory(tmp_path):
    run_cli("decode", f"checkpoint={tmp_path}/none.pt", f"input={WAV}", cwd=tmp_path)
    run_cli("evaluate", f"hyp={tmp_path}/none.txt", f"ref={tmp_path}/none.txt", cwd=tmp_path)
    assert not list(tmp_path.glob("*.log"))


def test_missing_input(tmp_path):
    result = run_cli("decode", f"checkpoint={tmp_path}/none.pt", "input=nothing.wav",
                     cwd=tmp_path)
    _one_line_error(result, "input=nothing.wav")


def test_missing_required_setting(tmp_path):
    result = run_cli("decode", cwd=tmp_path)  # checkpoint= may be left out: the shipped model
    _one_line_error(result, "input=")


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
    for _ in range(2):  # nothing decoded, nothing written: the rerun fails the same way
        result = run_cli("decode", f"checkpoint={tiny_checkpoint}", f"input={bad}",
                         f"out={tmp_path}/out", "format=[txt,json]", cwd=tmp_path)
        _one_line_error(result, "broken.wav")
    assert not list((tmp_path / "out").glob("*"))


def test_not_a_checkpoint(tmp_path):
    fake = tmp_path / "fake.pt"
    fake.write_text("hello")
    result = run_cli("decode", f"checkpoint={fake}", f"input={WAV}", cwd=tmp_path)
    _one_line_error(result, "fake.pt")


def test_framewise_training_on_a_corpus_without_phone_times(tmp_path):
    result = run_cli("train", "data=fsdd", f"data.root={FSDD_DIGITS}",
                     f"data.dir={tmp_path}/fsdd", "trainer.task=framewise",
                     "model.stack_frames=1", "debug=tiny", f"out_dir={tmp_path}/exp",
                     cwd=tmp_path)
    _one_line_error(result, "trainer.task=framewise", "phone times")
