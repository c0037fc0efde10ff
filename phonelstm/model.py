"""Acoustic models mapping features to per-frame logits.

- ``RecurrentModel``: stacked LSTM/GRU/tanh-RNN layers (uni- or bidirectional), optionally
  with peephole LSTM cells (``PeepholeLSTM``) and a target delay;
- ``MLP``: a feed-forward classifier of each frame and its +-``context`` neighbours.

``forward(x, lengths)`` takes batch-first features ``x: (B, T, F)`` and valid frame counts
``lengths: (B,)``; it returns logits ``(B, T', C)`` and output lengths, where ``T' = ceil(T / k)``
with ``k = stack_frames``. Outputs at valid positions never depend on padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from phonelstm.config import ModelConfig
from phonelstm.errors import PhonelstmError
from phonelstm.recurrence import PeepholeLSTM, make_recurrence

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}


class ModelConfigError(PhonelstmError):
    """An invalid ``model.*`` setting."""


def valid_mask(lengths: Tensor, total: int) -> Tensor:
    """``(B, total)`` booleans, true at the first ``lengths[b]`` positions of each row."""
    return torch.arange(total, device=lengths.device) < lengths.unsqueeze(1)


def zero_padding(x: Tensor, lengths: Tensor) -> Tensor:
    """``x: (B, T, F)`` with every frame at or beyond its utterance's length set to zero."""
    return x * valid_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)


def stack_frames(x: Tensor, lengths: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Concatenate each run of ``k`` frames: ``(B, T, F) -> (B, ceil(T/k), k*F)``."""
    if k == 1:
        return x, lengths
    B, T, F = x.shape
    # zero the padding, so the last group of a short utterance never reads another's frames
    x = nn.functional.pad(zero_padding(x, lengths), (0, 0, 0, (-T) % k))  # (B, T+pad, F)
    pad = x.shape[1] - T
    return x.reshape(B, (T + pad) // k, k * F), (lengths + k - 1) // k


class RecurrentModel(nn.Module):
    """Stacked LSTM/GRU/tanh-RNN layers (optionally bidirectional) and a linear output layer.

    With ``target_delay = d`` the output for frame ``t`` is the one emitted at step ``t + d``:
    each utterance gets ``d`` zero frames appended after its own end, the network runs over
    them, and the outputs are read ``d`` steps late, so a unidirectional model sees ``d``
    frames of future context before classifying a frame.

    ``self.rnn`` holds the recurrent weights; ``recurrence`` (``phonelstm.recurrence``) says
    how they run: over packed sequences, or over the padded batch as it is (the fast path's
    static shapes), with the LSTM layers as persistent CUDA kernels. The outputs at valid
    frames are the same.
    """

    def __init__(self, cfg: ModelConfig, input_dim: int, num_classes: int,
                 recurrence: str = "packed") -> None:
        super().__init__()
        if cfg.cell not in _CELLS:
            raise ModelConfigError(f"model.cell must be one of {sorted(_CELLS)}, got {cfg.cell!r}")
        if cfg.proj_size and cfg.cell != "lstm":
            raise ModelConfigError("model.proj_size needs model.cell=lstm")
        if cfg.peephole and (cfg.cell != "lstm" or cfg.proj_size):
            raise ModelConfigError("model.peephole needs model.cell=lstm and model.proj_size=0")
        if cfg.layers < 1 or cfg.hidden < 1 or cfg.stack_frames < 1 or cfg.target_delay < 0:
            raise ModelConfigError("model.layers, model.hidden and model.stack_frames must be "
                                   ">= 1 and model.target_delay >= 0")
        self.cfg = cfg
        directions = 2 if cfg.bidirectional else 1
        if cfg.peephole:
            sizes = [input_dim * cfg.stack_frames] + [directions * cfg.hidden] * (cfg.layers - 1)
            self.rnn = nn.ModuleList(PeepholeLSTM(n, cfg.hidden, cfg.bidirectional)
                                     for n in sizes)
        else:
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
        self.output = nn.Linear((cfg.proj_size or cfg.hidden) * directions, num_classes)
        self.recurrence = make_recurrence(cfg, recurrence)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # x: (B, T, F), lengths: (B,)
        x, lengths = stack_frames(x, lengths, self.cfg.stack_frames)  # (B, T', k*F)
        total, delay = x.shape[1], self.cfg.target_delay
        if delay:
            # zeros right after each utterance's end, not the batch's padding
            x = nn.functional.pad(zero_padding(x, lengths), (0, 0, 0, delay))  # (B, T'+d, k*F)
        hidden = self.recurrence(self.rnn, x, lengths + delay)  # (B, T'+d, directions * hidden)
        return self.output(hidden[:, delay:delay + total]), lengths  # (B, T', C), (B,)


class MLP(nn.Module):
    """Feed-forward classifier of each frame with its +-``context`` neighbours (tanh layers).

    The window is zero beyond an utterance's start and end, so frames of other utterances
    in the batch (or batch padding) never enter it.
    """

    def __init__(self, cfg: ModelConfig, input_dim: int, num_classes: int) -> None:
        super().__init__()
        if cfg.layers < 1 or cfg.hidden < 1 or cfg.context < 0:
            raise ModelConfigError("model.layers and model.hidden must be >= 1 and "
                                   "model.context >= 0 for model.arch=mlp")
        if cfg.stack_frames != 1 or cfg.target_delay:
            raise ModelConfigError("model.arch=mlp takes model.context for its window; "
                                   "set model.stack_frames=1 and model.target_delay=0")
        self.cfg = cfg
        width = (2 * cfg.context + 1) * input_dim
        layers: list[nn.Module] = []
        for index in range(cfg.layers):
            if index:
                layers.append(nn.Dropout(cfg.dropout))
            layers += [nn.Linear(width if index == 0 else cfg.hidden, cfg.hidden), nn.Tanh()]
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(cfg.hidden, num_classes)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # x: (B, T, F), lengths: (B,)
        k = self.cfg.context
        x = nn.functional.pad(zero_padding(x, lengths), (0, 0, k, k))  # (B, T+2k, F)
        windows = x.unfold(1, 2 * k + 1, 1)  # (B, T, F, 2k+1)
        windows = windows.transpose(2, 3).flatten(2)  # (B, T, (2k+1)*F), frame-major
        return self.output(self.hidden(windows)), lengths  # (B, T, C), (B,)


_ARCHS = ("mlp", "rnn")


def build_model(cfg: ModelConfig, input_dim: int, num_classes: int,
                recurrence: str = "packed") -> nn.Module:
    """The network of ``cfg``; ``recurrence`` picks how a recurrent one runs
    (``phonelstm.recurrence.RECURRENCES``: the fast path trains ``padded`` or ``persistent``)."""
    if cfg.arch not in _ARCHS:
        raise ModelConfigError(f"model.arch must be one of {sorted(_ARCHS)}, got {cfg.arch!r}")
    if cfg.arch == "mlp":
        return MLP(cfg, input_dim, num_classes)
    return RecurrentModel(cfg, input_dim, num_classes, recurrence)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(model: nn.Module) -> str:
    """One line naming the architecture and its weight count, printed at start."""
    cfg = model.cfg
    if cfg.arch == "mlp":
        kind = f"MLP {cfg.layers} x {cfg.hidden} tanh, window +-{cfg.context} frames"
    else:
        direction = "bidirectional" if cfg.bidirectional else "unidirectional"
        kind = (f"{cfg.layers} x {cfg.hidden} {direction} {cfg.cell}"
                f"{' (peephole)' if cfg.peephole else ''}"
                f"{f' (proj {cfg.proj_size})' if cfg.proj_size else ''}"
                f"{f', target delay {cfg.target_delay}' if cfg.target_delay else ''}")
    return f"{kind}: {count_parameters(model):,} weights"
