"""The shipped English model: it loads, recognises real speakers it never heard, and its
output does not depend on the recording level."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from phonelstm import pretrained
from phonelstm.config import DecodeConfig
from phonelstm.data.timit import scan
from phonelstm.decode import decode
from phonelstm.metrics import count_errors
from phonelstm.phones import fold
from phonelstm.recognizer import Recognizer
from tests.conftest import TIMIT_SAMPLE, shared

ROOT = Path(__file__).resolve().parents[1]
# measured 43.3% (52 errors / 120 phones, beam 16) on dr1-fvmh0/si1466 and dr4-maeb0/si1411
PER_BOUND = 50.0


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.from_pretrained(beam=16)


def test_shipped_model_is_small_and_self_describing(recognizer):
    assert pretrained.MODEL.stat().st_size <= 20 * 2**20
    assert (pretrained.HERE / "MODEL_CARD.md").is_file()
    assert recognizer.task == "ctc"
    assert recognizer.config.features.normalize == "utterance"
    assert recognizer.config.features.wave_scale == 32768


def test_timit_sample_utterances_are_recognised(recognizer):
    sample = {utt.id: utt for utt, _ in scan(shared(
        TIMIT_SAMPLE, "the TIMIT sample (non-commercial licence)"))}
    utts = [sample["fvmh0_si1466"], sample["maeb0_si1411"]]
    counts = [count_errors(fold(u.phones, 39), fold([p.phone for p in recognizer.transcribe(
        u.audio)], 39)) for u in utts]
    total = counts[0] + counts[1]
    assert total.rate < PER_BOUND, total.summary()


@pytest.mark.parametrize("gain_db", [-20, -40])
def test_quiet_recording_decodes_like_a_loud_one(recognizer, tmp_path, gain_db):
    """The same recording turned down (a float WAV: the gain alone, no re-quantisation)
    gives the same phones: per-utterance normalisation removes the gain, and in 16-bit units
    (``features.wave_scale``) the log floor clips nothing."""
    wav = pretrained.EXAMPLES / "speechocean762_004820045.flac"
    wave, rate = sf.read(wav, dtype="float32")
    sf.write(tmp_path / "quiet.wav", wave * np.float32(10 ** (gain_db / 20)), rate,
             subtype="FLOAT")
    loud = [p.phone for p in recognizer.transcribe(wav)]
    quiet = [p.phone for p in recognizer.transcribe(tmp_path / "quiet.wav")]
    assert len(loud) > 10 and quiet == loud


def test_decode_without_checkpoint_uses_the_shipped_model(tmp_path):
    audio = pretrained.EXAMPLES / pretrained.REFERENCES.read_text().split()[0]
    decode(DecodeConfig(input=str(audio), out=str(tmp_path / "out")))
    line = (tmp_path / "out" / "phones.txt").read_text().split()
    assert line[0] == audio.stem and len(line) > 5


def test_shipped_examples_carry_their_licence_and_references():
    names = [line.split()[0] for line in pretrained.REFERENCES.read_text().splitlines()]
    assert names and all((pretrained.EXAMPLES / n).is_file() for n in names)
    assert "CC BY-SA 4.0" in (pretrained.EXAMPLES / "LICENSE.md").read_text()
    for name in names:
        wave, _ = sf.read(pretrained.EXAMPLES / name)
        assert np.abs(wave).max() > 0.01


def test_export_keeps_decoding_state_and_refuses_a_scale_for_global_statistics(tmp_path):
    out = tmp_path / "model.pt"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "export_model.py"),
                    str(pretrained.MODEL), str(out)], check=True, capture_output=True)
    assert Recognizer.from_checkpoint(out).config.features.wave_scale == 32768
    ckpt = torch.load(out, weights_only=False)
    assert set(ckpt) == {"format", "version", "config", "symbols", "model", "normalizer"}
    ckpt["config"]["features"]["normalize"] = "global"
    torch.save(ckpt, out)
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "export_model.py"), str(out),
                             str(tmp_path / "b.pt"), "--wave-scale", "1"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and not (tmp_path / "b.pt").exists()
    assert result.stderr.strip().splitlines() == [
        f"export_model: {out}: --wave-scale needs a model with features.normalize=utterance, "
        f"not 'global'"]


def test_export_averages_checkpoints_and_refuses_ones_that_differ(tmp_path):
    export = [sys.executable, str(ROOT / "scripts" / "export_model.py")]
    ckpt = torch.load(pretrained.MODEL, weights_only=False)
    ckpt["model"] = {k: torch.zeros_like(v) for k, v in ckpt["model"].items()}
    zeros = tmp_path / "zeros.pt"
    torch.save(ckpt, zeros)
    out = tmp_path / "mean.pt"
    subprocess.run(export + [str(pretrained.MODEL), str(out), "--average", str(zeros)],
                   check=True, capture_output=True)
    shipped, mean = (torch.load(p, weights_only=False)["model"] for p in (pretrained.MODEL, out))
    assert all(torch.allclose(mean[k], shipped[k] / 2) for k in shipped)
    ckpt["config"]["model"]["hidden"] += 1
    torch.save(ckpt, zeros)
    result = subprocess.run(export + [str(pretrained.MODEL), str(tmp_path / "b.pt"), "--average",
                                      str(zeros)], capture_output=True, text=True)
    assert result.returncode == 1 and not (tmp_path / "b.pt").exists()
    assert result.stderr.strip().splitlines() == [
        f"export_model: {zeros}: its model configuration differs from {pretrained.MODEL}'s: "
        "cannot average them"]
