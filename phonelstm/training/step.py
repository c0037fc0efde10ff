"""The one training step handed to the loop, and the fast path it may take.

``build_train_step`` decides once how a step runs; the loop only calls it, batch by batch.
At the paper's sizes a cuDNN LSTM launches one small kernel per layer per time step, so an
eager training step is bound by kernel launches. With ``trainer.fast`` (on by default on
CUDA):

- batches have static shapes: time is padded up to a multiple of ``trainer.static_frames``
  and the batch to the most utterances that length allows (``StaticShapes``); the sampler
  packs batches by those padded lengths, so one shape serves every batch of a bucket;
- the model was built with a padded recurrence (``phonelstm.recurrence``): no host
  synchronisation, the same outputs at valid frames; on CUDA its LSTM layers run as
  persistent Triton kernels (``phonelstm.persistent_lstm``);
- on CUDA the model's forward and backward are captured in one CUDA graph per shape
  (``GraphedModel``) and replayed; the loss (CTC in fp32) and the optimiser stay eager.
  Under ``torchrun`` the model is not wrapped in DDP, whose backward hooks a captured graph
  would not run: each rank replays its own graphs and the step averages the gradients over
  ranks after the backward, in one flat all-reduce (``distributed.average_gradients``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from phonelstm.batch import Batch
from phonelstm.config import FeatureConfig, TrainConfig
from phonelstm.data.augment import WaveAugment
from phonelstm.data.augment import enabled as augment_enabled
from phonelstm.data.dataset import round_up
from phonelstm.features import (
    FeatureExtractor,
    Normalizer,
    SpecAugment,
    batch_features,
    num_frames,
)
from phonelstm.losses import ctc_loss, frame_loss
from phonelstm.metrics import frame_accuracy
from phonelstm.noise import weight_noise
from phonelstm.training import distributed
from phonelstm.training.options import AMP_DTYPES

Forward = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # (B, T, F), (B,) -> logits
# (batch still on the CPU, features, lengths) -> the features and lengths the model gets
Pad = Callable[[Batch, Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class StaticShapes:
    """The ``(batch, frames)`` shape every batch of a given length is padded to."""

    frames_quantum: int  # time is padded to a multiple of this
    max_frames: int  # padded frames per (global) batch: data.max_frames_per_batch
    max_batch: int  # utterances per (global) batch: data.max_batch_size
    replicas: int = 1  # data-parallel ranks sharing each batch

    def shape(self, longest: int) -> tuple[int, int]:
        """``(utterances, frames)`` of this rank's share of a batch whose longest has
        ``longest`` frames."""
        frames = round_up(longest, self.frames_quantum)
        batch = max(1, min(self.max_batch, self.max_frames // frames))
        return math.ceil(batch / self.replicas), frames


def longest_frames(batch: Batch, cfg: FeatureConfig) -> int:
    """Frames of the longest utterance of a batch still on the CPU (no device sync)."""
    if batch.feat_lengths is not None:
        return int(batch.feat_lengths.max())
    return int(num_frames(int(batch.wave_lengths.max()), cfg))


def pad_batch(feats: Tensor, lengths: Tensor, shape: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Zero-pad ``feats: (B, T, F)`` to ``shape = (B', T')``; added rows have length 0."""
    B, T, _ = feats.shape
    batch, frames = shape
    if B > batch or T > frames:
        raise ValueError(f"batch {B} x {T} frames does not fit the static shape {shape}")
    feats = nn.functional.pad(feats, (0, 0, 0, frames - T, 0, batch - B))  # (B', T', F)
    return feats, nn.functional.pad(lengths, (0, batch - B))  # (B',)


class _Forward(nn.Module):
    """The model under autocast, as one module per captured shape (they share weights)."""

    def __init__(self, model: nn.Module, amp_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.model = model
        self.amp_dtype = amp_dtype

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # autocast's weight cache must stay off inside a graph capture
        amp = (torch.autocast("cuda", dtype=self.amp_dtype, cache_enabled=False)
               if self.amp_dtype else nullcontext())
        with amp:
            logits, out_lengths = self.model(feats, lengths)
        return logits.float(), out_lengths


class GraphedModel:
    """Training forward and backward of ``model`` through CUDA graphs, one per input shape.

    Each new shape is captured on first use (``torch.cuda.make_graphed_callables``: three
    warm-up passes, then capture); later batches of that shape copy their inputs into the
    graph's static buffers and replay it. Weights are read from their storage at replay, so
    optimiser steps, weight noise and ``load_state_dict`` are seen; dropout draws fresh masks.
    The graphs share one memory pool. Only for training mode: evaluate with ``model`` itself.
    """

    def __init__(self, model: nn.Module, amp_dtype: torch.dtype | None) -> None:
        self.model = model
        self.amp_dtype = amp_dtype
        self.graphs: dict[tuple[int, ...], nn.Module] = {}
        self.pool = torch.cuda.graph_pool_handle()

    def __call__(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        key = tuple(feats.shape)
        graphed = self.graphs.get(key)
        if graphed is None:
            graphed = torch.cuda.make_graphed_callables(
                _Forward(self.model, self.amp_dtype), (feats, lengths), pool=self.pool)
            self.graphs[key] = graphed
        return graphed(feats, lengths)


class EagerForward:
    """``module`` called as it is, under autocast when mixed precision is on."""

    def __init__(self, module: nn.Module, amp_dtype: torch.dtype | None,
                 device: torch.device) -> None:
        self.module = module
        self.amp_dtype = amp_dtype
        self.device_type = device.type

    def __call__(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        with (torch.autocast(self.device_type, dtype=self.amp_dtype) if self.amp_dtype
              else nullcontext()):
            return self.module(feats, lengths)  # (B, T', C), (B,)


@dataclass(frozen=True)
class StaticPadding:
    """Features padded to their batch's static shape (extra rows have length 0)."""

    shapes: StaticShapes
    features: FeatureConfig

    def __call__(self, cpu_batch: Batch, feats: Tensor, lengths: Tensor
                 ) -> tuple[Tensor, Tensor]:
        return pad_batch(feats, lengths, self.shapes.shape(longest_frames(cpu_batch,
                                                                           self.features)))


def no_padding(cpu_batch: Batch, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    return feats, lengths


@dataclass
class StepResult:
    loss: Tensor | None  # the step's loss, detached; None when skipped as non-finite
    frames_correct: int  # framewise: frames classified right (0 for CTC)
    frames: int  # framewise: frames scored (0 for CTC)
    out_of_time: bool  # on any rank: trainer.max_minutes has passed


def ctc_step_loss(logits: Tensor, out_lengths: Tensor, batch: Batch
                  ) -> tuple[Tensor, int, int, int]:
    """CTC loss, the utterances it averages over, and no frame counts."""
    loss = ctc_loss(logits, out_lengths, batch.targets, batch.target_lengths)
    return loss, len(batch.ids), 0, 0


def frame_step_loss(logits: Tensor, out_lengths: Tensor, batch: Batch
                    ) -> tuple[Tensor, int, int, int]:
    """Frame cross-entropy, the frames it averages over, and the frames classified right."""
    loss = frame_loss(logits, batch.frame_labels)
    correct, count = frame_accuracy(logits.detach().argmax(-1),
                                    batch.frame_labels[:, :logits.shape[1]])
    return loss, count, correct, count


class TrainStep:
    """One optimisation step on one batch: features, forward, loss, backward, update.

    A non-finite loss (on any rank) skips the update. The loss is a global mean over the
    ranks' utterances (CTC) or frames, as one process training on the whole batch.
    """

    def __init__(self, cfg: TrainConfig, ctx: distributed.Context, device: torch.device,
                 model: nn.Module, forward: Forward, pad: Pad, average_gradients: bool,
                 extractor: FeatureExtractor, normalizer: Normalizer,
                 optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
        self.cfg, self.ctx, self.device = cfg, ctx, device
        self.model, self.forward, self.pad = model, forward, pad
        self.average_gradients = average_gradients  # not DDP-wrapped: average here
        self.extractor, self.normalizer = extractor, normalizer
        self.augment = SpecAugment(cfg.features)
        self.wave_augment = (WaveAugment(cfg.data.augment, cfg.features)
                             if augment_enabled(cfg.data.augment) else None)
        self.optimizer, self.scaler = optimizer, scaler
        self.loss = ctc_step_loss if cfg.trainer.task == "ctc" else frame_step_loss

    def __call__(self, cpu_batch: Batch, out_of_time: Callable[[], bool]) -> StepResult:
        batch = cpu_batch.to(self.device)
        if self.wave_augment:  # on the device; the speed factor is drawn on the host
            speed = self.wave_augment.draw_speed()
            batch = self.wave_augment(batch, speed)
            cpu_batch = replace(cpu_batch, wave_lengths=torch.ceil(
                cpu_batch.wave_lengths / speed).long())  # what the static shape must hold
        feats, lengths = batch_features(batch, self.extractor, self.normalizer,
                                        self.cfg.features)  # (B, T, F), (B,)
        feats = self.augment(feats, lengths)  # SpecAugment, when configured
        feats, lengths = self.pad(cpu_batch, feats, lengths)
        self.optimizer.zero_grad(set_to_none=True)
        with weight_noise(self.model, self.cfg.trainer.weight_noise):
            logits, out_lengths = self.forward(feats, lengths)  # (B, T', C), (B,)
            real = len(batch.ids)  # the static shape's extra rows are not scored
            logits, out_lengths = logits[:real], out_lengths[:real]
            loss, count, correct, frames = self.loss(logits, out_lengths, batch)
            loss = distributed.global_mean(self.ctx, loss, count)
            # decided alike on every rank, or the gradient all-reduce would wait for a rank
            # that stopped
            nonfinite, stop = distributed.any_rank(
                self.ctx, [not bool(torch.isfinite(loss)), out_of_time()], self.device)
            if not nonfinite:
                self.scaler.scale(loss).backward()
        if nonfinite:
            return StepResult(None, correct, frames, stop)
        if self.average_gradients:  # a no-op in one process
            distributed.average_gradients(self.ctx, self.model.parameters())
        if self.cfg.optim.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return StepResult(loss.detach(), correct, frames, stop)


def build_train_step(cfg: TrainConfig, fast: bool, ctx: distributed.Context,
                     device: torch.device, model: nn.Module, extractor: FeatureExtractor,
                     normalizer: Normalizer, optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler) -> TrainStep:
    """The step for this run: the fast path (static shapes, CUDA graphs on GPU), eager under
    DDP, or eager in one process."""
    amp_dtype = AMP_DTYPES[cfg.trainer.amp]
    if fast:
        distributed.broadcast_module(ctx, model)  # rank 0's weights, as DDP would broadcast
        shapes = StaticShapes(cfg.trainer.static_frames, cfg.data.max_frames_per_batch,
                              cfg.data.max_batch_size, ctx.world_size)
        forward: Forward = (GraphedModel(model, amp_dtype) if device.type == "cuda"
                            else EagerForward(model, amp_dtype, device))
        return TrainStep(cfg, ctx, device, model, forward, StaticPadding(shapes, cfg.features),
                         True, extractor, normalizer, optimizer, scaler)
    if ctx.enabled:
        ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                      else None, broadcast_buffers=False)
        return TrainStep(cfg, ctx, device, model, EagerForward(ddp, amp_dtype, device),
                         no_padding, False, extractor, normalizer, optimizer, scaler)
    return TrainStep(cfg, ctx, device, model, EagerForward(model, amp_dtype, device),
                     no_padding, True, extractor, normalizer, optimizer, scaler)
