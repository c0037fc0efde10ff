"""The fast training path: static batch shapes, padded recurrences, CUDA graphs (GPU tests)."""

from dataclasses import replace

import pytest
import torch

from phonelstm.checkpoint import load_checkpoint
from phonelstm.config import ModelConfig, OptimConfig
from phonelstm.data.dataset import BucketBatchSampler
from phonelstm.losses import ctc_loss
from phonelstm.model import build_model, valid_mask
from phonelstm.training.loop import train
from phonelstm.training.step import GraphedModel, StaticShapes, pad_batch
from tests.test_ctc import tiny_config


def test_every_batch_fits_its_static_shape_and_shapes_are_few():
    lengths = torch.randint(20, 400, (500,), generator=torch.Generator().manual_seed(0)).tolist()
    shapes = StaticShapes(frames_quantum=32, max_frames=4000, max_batch=24)
    sampler = BucketBatchSampler(lengths, 4000, 24, seed=1, length_quantum=32)
    seen = set()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for batch in sampler:
            longest = max(lengths[i] for i in batch)
            size, frames = shapes.shape(longest)
            assert len(batch) <= size and longest <= frames and frames % 32 == 0
            seen.add((size, frames))
    assert len(seen) <= 400 // 32 + 1  # one shape (one CUDA graph) per 32-frame bucket


def test_data_parallel_ranks_get_their_share_of_the_static_batch():
    shapes = StaticShapes(frames_quantum=10, max_frames=1000, max_batch=64, replicas=4)
    assert shapes.shape(95) == (3, 100)  # 10 utterances of 100 frames over 4 ranks


def test_pad_batch_adds_empty_rows_and_frames():
    feats, lengths = torch.randn(2, 7, 3), torch.tensor([7, 4])
    padded, padded_lengths = pad_batch(feats, lengths, (4, 10))
    assert padded.shape == (4, 10, 3) and padded_lengths.tolist() == [7, 4, 0, 0]
    assert torch.equal(padded[:2, :7], feats) and not padded[2:].any()
    with pytest.raises(ValueError, match="does not fit"):
        pad_batch(feats, lengths, (1, 10))


def test_fast_path_on_cpu_trains_to_the_eager_parameters(sample_corpus, tmp_path):
    # static_frames=1 keeps the eager batches, so only padding rows and the padded
    # recurrence differ; SGD keeps summation-order differences small
    runs = {}
    for fast in (False, True):
        cfg = tiny_config(sample_corpus, tmp_path / str(fast), n=6, max_epochs=2, fast=fast,
                          static_frames=1)
        cfg = replace(cfg, model=replace(cfg.model, dropout=0.0),
                      data=replace(cfg.data, max_batch_size=3),
                      optim=OptimConfig(name="sgd", lr=0.01, schedule="none"))
        train(cfg)
        runs[fast] = load_checkpoint(tmp_path / str(fast) / "exp" / "last.pt")["model"]
    for key, value in runs[False].items():
        torch.testing.assert_close(runs[True][key], value, rtol=1e-5, atol=1e-6, msg=key)


def _ctc_step_inputs(device: str, recurrence: str):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=160, layers=3, dropout=0.0, stack_frames=1), 20,
                        10, recurrence=recurrence).to(device)
    feats, lengths = torch.randn(4, 64, 20, device=device), torch.tensor([64, 50, 33, 0])
    targets = torch.randint(1, 10, (4, 8), device=device)
    target_lengths = torch.tensor([8, 6, 5, 0])
    return model, feats, lengths.to(device), targets, target_lengths.to(device)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("recurrence", ["padded", "persistent"], ids=["cudnn", "persistent"])
def test_graphed_step_gives_the_eager_loss_and_gradients(recurrence):
    model, feats, lengths, targets, target_lengths = _ctc_step_inputs("cuda", recurrence)
    graphed = GraphedModel(model, amp_dtype=None)
    results = []
    for forward in (model, graphed, graphed):  # eager, capture + replay, replay
        model.zero_grad(set_to_none=True)
        logits, out_lengths = forward(feats, lengths)
        loss = ctc_loss(logits[:3], out_lengths[:3], targets[:3], target_lengths[:3])
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
        del logits, loss  # as the trainer does: a capture must not meet a live autograd graph
    (eager_loss, eager_grads), *replays = results
    for loss, grads in replays:
        torch.testing.assert_close(loss, eager_loss, rtol=1e-4, atol=1e-4)
        for a, b in zip(grads, eager_grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_short_graphed_run_converges_like_the_eager_one(sample_corpus, tmp_path):
    dev_per = {}
    for fast in (False, True):
        cfg = tiny_config(sample_corpus, tmp_path / str(fast), n=6, max_epochs=30, fast=fast,
                          device="cuda")
        cfg = replace(cfg, model=replace(cfg.model, hidden=160, dropout=0.0),
                      optim=OptimConfig(lr=5e-3, schedule="none"))
        dev_per[fast] = train(cfg)["dev"]
    assert dev_per[False] < 30 and dev_per[True] < 30, dev_per  # dev PER in %


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("amp", [None, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("batch", [5, 70])  # one block of rows, and two
def test_persistent_lstm_equals_cudnn_in_outputs_and_gradients(batch, amp):
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=250, layers=2, dropout=0.0, stack_frames=1)
    cudnn = build_model(cfg, 20, 10, recurrence="padded").cuda()
    persistent = build_model(cfg, 20, 10, recurrence="persistent").cuda()
    persistent.load_state_dict(cudnn.state_dict())
    feats = torch.randn(batch, 64, 20, device="cuda")
    lengths = torch.randint(1, 65, (batch,), device="cuda")
    lengths[0] = 64
    results = []
    for model in (cudnn, persistent):
        with torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None):
            logits, out_lengths = model(feats, lengths)
        logits = logits.float() * valid_mask(out_lengths, logits.shape[1]).unsqueeze(-1)
        logits.square().sum().backward()
        results.append([logits.detach()] + [p.grad for p in model.parameters()])
    tolerance = 1e-2 if amp is None else 5e-2  # TF32 / bf16 products in both
    for a, b in zip(*results, strict=True):
        assert (a - b).norm() <= tolerance * b.norm()
