"""CTC training regime: weight noise, non-finite loss guard, mixed precision, presets."""

import copy
import json
import math

import pytest
import torch
from hydra import compose, initialize_config_dir

import phonelstm.training.step as step_module
from phonelstm.checkpoint import load_checkpoint
from phonelstm.cli import CONF_DIR
from phonelstm.config import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    TrainerConfig,
    to_dataclass,
)
from phonelstm.data.manifest import read_manifest, write_manifest
from phonelstm.losses import ctc_loss
from phonelstm.model import RecurrentModel
from phonelstm.noise import weight_noise
from phonelstm.training.loop import train


def tiny_config(sample_corpus, tmp_path, n=3, **trainer):
    utts = read_manifest(sample_corpus / "train.jsonl")[:n]
    data = tmp_path / "data"
    for split in ("train", "dev", "test"):
        write_manifest(data / f"{split}.jsonl", utts)
    return TrainConfig(
        data=DataConfig(name="tiny", corpus="manifest", dir=str(data), max_batch_size=1),
        model=ModelConfig(hidden=16, layers=2, dropout=0.1, stack_frames=3),
        optim=OptimConfig(lr=1e-3),
        trainer=TrainerConfig(**{"max_epochs": 1, "patience": 0, "eval_test": False, **trainer}),
        out_dir=str(tmp_path / "exp"),
    )


def small_model():
    model = RecurrentModel(ModelConfig(hidden=8, layers=2, dropout=0.0), 5, 4)
    x = torch.randn(2, 7, 5)
    lengths = torch.tensor([7, 5])
    targets, target_lengths = torch.tensor([[1, 2], [3, 0]]), torch.tensor([2, 1])
    loss = lambda m: ctc_loss(*m(x, lengths), targets, target_lengths)  # noqa: E731
    return model, x, lengths, loss


def test_weight_noise_is_present_only_inside_the_block():
    model, x, lengths, _ = small_model()
    clean = copy.deepcopy(model.state_dict())
    before, _ = model(x, lengths)
    with weight_noise(model, 0.075):
        assert all(not torch.equal(p, clean[k]) for k, p in model.state_dict().items())
        noisy, _ = model(x, lengths)
    assert not torch.allclose(noisy, before)
    for k, p in model.state_dict().items():
        assert torch.equal(p, clean[k])
    after, _ = model(x, lengths)
    assert torch.equal(after, before)  # forward outside training is noise-free


def test_weight_noise_step_applies_noisy_gradient_to_clean_weights():
    model, _, _, loss = small_model()
    reference = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.manual_seed(1)
    opt.zero_grad()
    with weight_noise(model, 0.075):
        loss(model).backward()
    opt.step()

    # the same step by hand: gradient at the noisy weights, update of the clean ones
    torch.manual_seed(1)
    noisy = copy.deepcopy(reference)
    with torch.no_grad():
        for p in noisy.parameters():
            p.add_(torch.randn_like(p) * 0.075)
    loss(noisy).backward()
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    for p, q in zip(reference.parameters(), noisy.parameters(), strict=True):
        p.grad = q.grad
    ref_opt.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


def test_non_finite_losses_are_skipped_and_counted(sample_corpus, tmp_path, monkeypatch):
    calls = []

    def sometimes_nan(*args, **kwargs):
        calls.append(1)
        loss = ctc_loss(*args, **kwargs)
        return loss * math.nan if len(calls) == 2 else loss

    monkeypatch.setattr(step_module, "ctc_loss", sometimes_nan)
    cfg = tiny_config(sample_corpus, tmp_path)
    train(cfg)
    ckpt = load_checkpoint(tmp_path / "exp" / "last.pt")
    assert ckpt["progress"]["skipped_batches"] == 1 and ckpt["progress"]["step"] == 3
    assert all(torch.isfinite(p).all() for p in ckpt["model"].values())
    assert json.loads((tmp_path / "exp" / "results.json").read_text())["skipped_batches"] == 1


def test_bf16_mixed_precision_trains_on_cpu_with_extra_training_manifests(sample_corpus,
                                                                        tmp_path):
    cfg = tiny_config(sample_corpus, tmp_path, n=2, amp="bf16", device="cpu")
    extra = tmp_path / "extra.jsonl"
    write_manifest(extra, read_manifest(sample_corpus / "dev.jsonl")[:1])
    cfg.data.extra_train = [str(extra), str(extra)]  # listed twice: used twice an epoch
    results = train(cfg)
    ckpt = load_checkpoint(tmp_path / "exp" / "last.pt")
    assert ckpt["progress"]["step"] == 4  # 2 from data.dir's train split + 2 extra
    assert ckpt["progress"]["skipped_batches"] == 0 and math.isfinite(results["dev"])
    assert all(p.dtype == torch.float32 for p in ckpt["model"].values())


def test_fp16_on_cpu_is_one_clear_error(sample_corpus, tmp_path):
    from phonelstm.errors import PhonelstmError

    with pytest.raises(PhonelstmError, match="trainer.amp=fp16 needs a CUDA device"):
        train(tiny_config(sample_corpus, tmp_path, n=2, amp="fp16", device="cpu"))


def test_init_from_then_noise_phase_with_beam_scoring(sample_corpus, tmp_path):
    from phonelstm.checkpoint import CheckpointError

    train(tiny_config(sample_corpus, tmp_path / "a", n=2))
    best = str(tmp_path / "a" / "exp" / "best.pt")
    mismatched = tiny_config(sample_corpus, tmp_path / "b", n=2, init_from=best)
    mismatched.model.hidden = 12
    with pytest.raises(CheckpointError, match="trainer.init_from"):
        train(mismatched)
    second = tiny_config(sample_corpus, tmp_path / "c", n=2, weight_noise=0.075, beam=4,
                         init_from=best, eval_test=True)
    results = train(second)
    row = json.loads((tmp_path / "c" / "exp" / "results.json").read_text())
    for key in ("dev_greedy", "dev_beam", "test_greedy", "test_beam"):
        assert row[key] == pytest.approx(results[key], abs=0.01)
    assert row["weight_noise"] == 0.075 and row["weights"] > 0 and row["epochs"] == 1


def test_paper_regime_and_noise_phase_compose():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = to_dataclass(TrainConfig, compose("train", [
            "optim=paper", "model=blstm_5x250", "experiment=timit_ctc_noise"]))
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("sgd", 1e-4, 0.9)
    assert cfg.data.max_batch_size == 1 and cfg.optim.schedule == "none"
    assert cfg.trainer.weight_noise == 0.075
    assert cfg.trainer.init_from == "exp/synth/ctc_lstm_5x250_fbank/best.pt"
    assert cfg.out_dir == "exp/synth/ctc_lstm_5x250_fbank_noise"
