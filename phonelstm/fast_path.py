"""The fast training path: static batch shapes, padded recurrences and CUDA graphs.

At the paper's sizes a cuDNN LSTM launches one small kernel per layer per time step, so an
eager training step is bound by kernel launches. With ``trainer.fast`` (on by default on
CUDA):

- batches have static shapes: time is padded up to a multiple of ``trainer.static_frames``
  and the batch to the most utterances that length allows (``StaticShapes``); the sampler
  packs batches by those padded lengths, so one shape serves every batch of a bucket;
- the recurrent stack runs over the padded batch (``RecurrentModel.padded``), not over packed
  sequences: no host synchronisation, the same outputs at valid frames; on CUDA its LSTM
  layers run as persistent Triton kernels (``phonelstm.persistent_lstm``);
- on CUDA the model's forward and backward are captured in one CUDA graph per shape
  (``GraphedModel``) and replayed; the loss (CTC in fp32) and the optimiser stay eager.
  Under ``torchrun`` the model is not wrapped in DDP: each rank replays its own graphs and
  the training step averages the gradients over ranks after the backward, in one flat
  all-reduce (``phonelstm.distributed.average_gradients``).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from phonelstm.config import FeatureConfig
from phonelstm.data.dataset import Batch, round_up
from phonelstm.features import num_frames


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
