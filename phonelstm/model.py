"""Acoustic models: stacked (bi)directional recurrent networks mapping features to logits.

``forward(x, lengths)`` takes batch-first features ``x: (B, T, F)`` and valid frame counts
``lengths: (B,)``; it returns logits ``(B, T', C)`` and output lengths, where ``T' = ceil(T / k)``
with ``k = stack_frames``. Outputs at valid positions never depend on padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from phonelstm.config import ModelConfig
from phonelstm.errors import PhonelstmError

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}


class ModelConfigError(PhonelstmError):
    """An invalid ``model.*`` setting."""


def stack_frames(x: Tensor, lengths: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Concatenate each run of ``k`` frames: ``(B, T, F) -> (B, ceil(T/k), k*F)``."""
    if k == 1:
        return x, lengths
    B, T, F = x.shape
    # zero the padding, so the last group of a short utterance never reads another's frames
    valid = torch.arange(T, device=x.device) < lengths.to(x.device).unsqueeze(1)  # (B, T)
    x = nn.functional.pad(x * valid.unsqueeze(-1), (0, 0, 0, (-T) % k))  # (B, T+pad, F)
    pad = x.shape[1] - T
    return x.reshape(B, (T + pad) // k, k * F), (lengths + k - 1) // k


class RecurrentModel(nn.Module):
    """Stacked LSTM/GRU/tanh-RNN layers (optionally bidirectional) and a linear output layer."""

    def __init__(self, cfg: ModelConfig, input_dim: int, num_classes: int) -> None:
        super().__init__()
        if cfg.cell not in _CELLS:
            raise ModelConfigError(f"model.cell must be one of {sorted(_CELLS)}, got {cfg.cell!r}")
        if cfg.proj_size and cfg.cell != "lstm":
            raise ModelConfigError("model.proj_size needs model.cell=lstm")
        if cfg.layers < 1 or cfg.hidden < 1 or cfg.stack_frames < 1:
            raise ModelConfigError("model.layers, model.hidden and model.stack_frames must be >= 1")
        self.cfg = cfg
        extra = {"proj_size": cfg.proj_size} if cfg.proj_size else {}
        if cfg.cell == "rnn_tanh":
            extra["nonlinearity"] = "tanh"
        self.rnn = _CELLS[cfg.cell](
            input_size=input_dim * cfg.stack_frames,
            hidden_size=cfg.hidden,
            num_layers=cfg.layers,
            bidirectional=cfg.bidirectional,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
            batch_first=True,
            **extra,
        )
        directions = 2 if cfg.bidirectional else 1
        self.output = nn.Linear((cfg.proj_size or cfg.hidden) * directions, num_classes)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # x: (B, T, F), lengths: (B,)
        x, lengths = stack_frames(x, lengths, self.cfg.stack_frames)  # (B, T', k*F)
        total = x.shape[1]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = self.rnn(packed)
        # (B, T', directions * hidden)
        hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=total)
        return self.output(hidden), lengths  # (B, T', C), (B,)


def build_model(cfg: ModelConfig, input_dim: int, num_classes: int) -> nn.Module:
    if cfg.arch == "rnn":
        return RecurrentModel(cfg, input_dim, num_classes)
    raise ModelConfigError(f"model.arch must be 'rnn', got {cfg.arch!r}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(model: nn.Module) -> str:
    """One line naming the architecture and its weight count, printed at start."""
    cfg = model.cfg
    direction = "bidirectional" if cfg.bidirectional else "unidirectional"
    return (f"{cfg.layers} x {cfg.hidden} {direction} {cfg.cell}"
            f"{f' (proj {cfg.proj_size})' if cfg.proj_size else ''}: "
            f"{count_parameters(model):,} weights")

