"""Posteriorgram export (format=posteriors): NumPy and Kaldi ark/scp equal the model outputs."""

import json

import kaldiio
import numpy as np
import pytest
import torch

from phonelstm.config import DecodeConfig
from phonelstm.decode import decode
from phonelstm.recognizer import Recognizer


@pytest.mark.parametrize("task", ["ctc", "framewise"])
def test_posteriors_round_trip(trained_checkpoints, tmp_path, timit_sample, task):
    files = timit_sample / "dr2-faem0"
    out = tmp_path / "out"
    decode(DecodeConfig(checkpoint=str(trained_checkpoints[task]), input=f"{files}/sx*.wav",
                        out=str(out), format=["posteriors", "txt"]))
    recognizer = Recognizer.from_checkpoint(trained_checkpoints[task])
    meta = json.loads((out / "posteriors.json").read_text())
    assert meta["symbols"] == list(recognizer.vocab.symbols)
    assert meta["frame_shift"] == pytest.approx(0.01 * recognizer.config.model.stack_frames)
    npz = np.load(out / "posteriors.npz")
    scp = kaldiio.load_scp(str(out / "posteriors.scp"))
    ark = dict(kaldiio.load_ark(str(out / "posteriors.ark")))
    ids = sorted(p.stem for p in files.glob("sx*.wav"))
    assert sorted(npz.files) == sorted(scp) == sorted(ark) == ids
    for utt_id in ids:
        expected = recognizer.log_posteriors(files / f"{utt_id}.wav").numpy()
        assert npz[utt_id].shape == (len(expected), len(meta["symbols"]))
        np.testing.assert_allclose(npz[utt_id], expected, atol=1e-5)
        np.testing.assert_array_equal(scp[utt_id], npz[utt_id])
        np.testing.assert_array_equal(ark[utt_id], npz[utt_id])
        sums = torch.from_numpy(npz[utt_id]).logsumexp(-1)
        assert sums.abs().max() < 1e-4
