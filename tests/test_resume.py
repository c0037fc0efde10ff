"""Exact resume: an interrupted and resumed run ends with the uninterrupted run's state."""

import pytest
import torch

import phonelstm.training.step as step_module
from phonelstm.checkpoint import load_checkpoint
from phonelstm.losses import ctc_loss
from phonelstm.training.loop import train
from tests.test_ctc import tiny_config


class Interrupted(Exception):
    pass


def test_resume_mid_epoch_gives_the_uninterrupted_parameters(sample_corpus, tmp_path,
                                                              monkeypatch):
    # dropout and weight noise draw from the RNG, so the RNG state must be restored too
    settings = dict(max_epochs=2, save_every_steps=1, weight_noise=0.01)
    straight = tiny_config(sample_corpus, tmp_path / "straight", **settings)
    train(straight)

    calls = []

    def crash_at_fifth_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # epoch 2, second batch: after the step-4 checkpoint
            raise Interrupted
        return ctc_loss(*args, **kwargs)

    resumed = tiny_config(sample_corpus, tmp_path / "resumed", **settings)
    monkeypatch.setattr(step_module, "ctc_loss", crash_at_fifth_batch)
    with pytest.raises(Interrupted):
        train(resumed)
    monkeypatch.setattr(step_module, "ctc_loss", ctc_loss)
    assert load_checkpoint(tmp_path / "resumed" / "exp" / "last.pt")["progress"]["step"] == 4
    train(resumed)

    a = load_checkpoint(tmp_path / "straight" / "exp" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "exp" / "last.pt")
    assert a["progress"]["step"] == b["progress"]["step"] == 6
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(),
                      strict=True):
        assert torch.equal(pa["exp_avg"], pb["exp_avg"])
    assert a["scheduler"] == b["scheduler"]
