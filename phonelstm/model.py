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
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from phonelstm.config import ModelConfig
from phonelstm.errors import PhonelstmError

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}
# the functions nn.LSTM/GRU/RNN call (cuDNN on GPUs), for one layer at a time
_CELL_FUNCTIONS = {"lstm": torch.lstm, "gru": torch.gru, "rnn_tanh": torch.rnn_tanh}


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


def roll_rows(x: Tensor, shifts: Tensor) -> Tensor:
    """Roll each row of ``x: (B, T, F)`` along time by its own ``shifts[b]`` steps:
    ``T - lengths`` right-aligns each utterance (its padding moves in front), and minus
    that undoes it."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device)
    index = (t - shifts.unsqueeze(1)) % T  # (B, T)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence within its own length; padding stays where it is. ``(B, T, F)``."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(t < lengths, lengths - 1 - t, t)  # (B, T)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class _PeepholeScan(torch.autograd.Function):
    """The peephole LSTM recurrence with a hand-written backward pass through time.

    Directions run side by side as a leading batch dimension ``D``. Autograd over the step
    loop would record ~25 nodes per step; here the forward keeps the gate activations, the
    backward loop is ~10 fused ops per step, and the weight gradients are one product each.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)  # fp32 under autocast
    def forward(ctx, gates_x: Tensor, recurrent: Tensor, peephole: Tensor) -> Tensor:
        # gates_x: (T, D, B, 4H) input projections, recurrent: (D, H, 4H), peephole: (D, 3, H)
        T, D, B, _ = gates_x.shape
        H = recurrent.shape[1]
        p_if = peephole[:, :2].reshape(D, 1, 2 * H)  # (D, 1, 2H)
        p_o = peephole[:, 2:]  # (D, 1, H)
        h = gates_x.new_zeros(D, B, H)
        c = gates_x.new_zeros(D, B, H)
        hs, cs, ifs, zs, o_gates = [], [], [], [], []
        for t in range(T):
            g = torch.baddbmm(gates_x[t], h, recurrent)  # (D, B, 4H)
            i_f = torch.sigmoid(torch.addcmul(g[..., :2 * H], c.repeat(1, 1, 2), p_if))
            z = torch.tanh(g[..., 2 * H:3 * H])
            c = torch.addcmul(i_f[..., H:] * c, i_f[..., :H], z)
            o = torch.sigmoid(torch.addcmul(g[..., 3 * H:], c, p_o))
            h = o * torch.tanh(c)
            hs.append(h)
            cs.append(c)
            ifs.append(i_f)
            zs.append(z)
            o_gates.append(o)
        out = torch.stack(hs)  # (T, D, B, H)
        ctx.save_for_backward(recurrent, peephole, out, torch.stack(cs), torch.stack(ifs),
                              torch.stack(zs), torch.stack(o_gates))
        return out

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        recurrent, peephole, h, c, i_f, z, o = ctx.saved_tensors
        T, D, B, H = h.shape
        i, f = i_f[..., :H], i_f[..., H:]
        c_prev = torch.cat([torch.zeros_like(c[:1]), c[:-1]])
        h_prev = torch.cat([torch.zeros_like(h[:1]), h[:-1]])
        tanh_c = torch.tanh(c)
        # step-independent factors of the chain rule, for all steps at once
        k_o = tanh_c * o * (1 - o)  # d a_o / d h
        k_c = o * (1 - tanh_c * tanh_c)  # d c / d h (through tanh)
        k_ifz = torch.stack([z * i * (1 - i), c_prev * f * (1 - f), i * (1 - z * z)], dim=3)
        p_i, p_f, p_o = (peephole[:, n:n + 1] for n in range(3))  # (D, 1, H) each
        recurrent_t = recurrent.transpose(1, 2)  # (D, 4H, H)
        grad_gates = torch.empty(T, D, B, 4 * H, dtype=h.dtype, device=h.device)
        dh_next = torch.zeros_like(h[0])
        dc_next = torch.zeros_like(c[0])
        for t in range(T - 1, -1, -1):
            dh = grad_out[t] + dh_next
            da_o = dh * k_o[t]
            dc = torch.addcmul(torch.addcmul(dc_next, dh, k_c[t]), da_o, p_o)
            da_ifz = dc.unsqueeze(2) * k_ifz[t]  # (D, B, 3, H)
            grad_gates[t] = torch.cat([da_ifz.flatten(2), da_o], dim=-1)
            dc_next = torch.addcmul(torch.addcmul(dc * f[t], da_ifz[:, :, 0], p_i),
                                    da_ifz[:, :, 1], p_f)
            dh_next = torch.bmm(grad_gates[t], recurrent_t)
        grad_recurrent = torch.einsum("tdbh,tdbg->dhg", h_prev, grad_gates)
        grad_peephole = torch.stack([
            (grad_gates[..., :H] * c_prev).sum((0, 2)),
            (grad_gates[..., H:2 * H] * c_prev).sum((0, 2)),
            (grad_gates[..., 3 * H:] * c).sum((0, 2)),
        ], dim=1)  # (D, 3, H)
        return grad_gates, grad_recurrent, grad_peephole


class PeepholeLSTM(nn.Module):
    """One LSTM layer with peephole connections (Gers et al. 2002), uni- or bidirectional.

    Per direction, with ``c`` the cell state and ``*`` the elementwise product::

        i = sigmoid(W_i x + R_i h' + p_i * c' + b_i)
        f = sigmoid(W_f x + R_f h' + p_f * c' + b_f)
        c = f * c' + i * tanh(W_z x + R_z h' + b_z)
        o = sigmoid(W_o x + R_o h' + p_o * c + b_o)
        h = o * tanh(c)

    cuDNN has no peepholes, so this runs step by step (``_PeepholeScan``); the input
    projections of the whole sequence are one matrix product up front. The backward
    direction runs over each sequence reversed within its own length, beside the forward one.
    """

    def __init__(self, input_dim: int, hidden: int, bidirectional: bool) -> None:
        super().__init__()
        directions = 2 if bidirectional else 1
        self.input_proj = nn.ModuleList(nn.Linear(input_dim, 4 * hidden)
                                        for _ in range(directions))  # gate order i, f, z, o
        self.recurrent = nn.Parameter(torch.empty(directions, hidden, 4 * hidden))  # h @ R
        self.peephole = nn.Parameter(torch.zeros(directions, 3, hidden))  # p_i, p_f, p_o
        bound = hidden ** -0.5
        for proj in self.input_proj:
            nn.init.uniform_(proj.weight, -bound, bound)
            nn.init.uniform_(proj.bias, -bound, bound)
        nn.init.uniform_(self.recurrent, -bound, bound)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        # x: (B, T, F) -> (B, T, directions * hidden)
        inputs = [x, reverse_padded(x, lengths)][:len(self.input_proj)]
        gates_x = torch.stack([proj(inp) for proj, inp in zip(self.input_proj, inputs,
                                                               strict=True)])  # (D, B, T, 4H)
        h = _PeepholeScan.apply(gates_x.permute(2, 0, 1, 3).contiguous(), self.recurrent,
                                self.peephole)  # (T, D, B, H)
        h = h.permute(1, 2, 0, 3)  # (D, B, T, H)
        if len(h) == 1:
            return h[0]
        return torch.cat([h[0], reverse_padded(h[1], lengths)], dim=-1)


class RecurrentModel(nn.Module):
    """Stacked LSTM/GRU/tanh-RNN layers (optionally bidirectional) and a linear output layer.

    With ``target_delay = d`` the output for frame ``t`` is the one emitted at step ``t + d``:
    each utterance gets ``d`` zero frames appended after its own end, the network runs over
    them, and the outputs are read ``d`` steps late, so a unidirectional model sees ``d``
    frames of future context before classifying a frame.

    The recurrent stack runs over packed sequences, or with ``padded = True`` over the padded
    batch as it is (``_padded``): the same outputs at valid frames, with no host
    synchronisation and static shapes, which CUDA graphs need; ``persistent = True`` also
    runs its LSTM layers through ``phonelstm.persistent_lstm`` on CUDA.
    """

    def __init__(self, cfg: ModelConfig, input_dim: int, num_classes: int) -> None:
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
            self.dropout = nn.Dropout(cfg.dropout)
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
        self.padded = False
        self.persistent = False

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # x: (B, T, F), lengths: (B,)
        x, lengths = stack_frames(x, lengths, self.cfg.stack_frames)  # (B, T', k*F)
        total, delay = x.shape[1], self.cfg.target_delay
        if delay:
            # zeros right after each utterance's end, not the batch's padding
            x = nn.functional.pad(zero_padding(x, lengths), (0, 0, 0, delay))  # (B, T'+d, k*F)
        hidden = self._recurrent(x, lengths + delay)  # (B, T'+d, directions * hidden)
        return self.output(hidden[:, delay:delay + total]), lengths  # (B, T', C), (B,)

    def _recurrent(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.cfg.peephole:
            for index, layer in enumerate(self.rnn):
                x = layer(self.dropout(x) if index else x, lengths)
            return x
        if self.padded:
            return self._padded(x, lengths)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = self.rnn(packed)
        hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=x.shape[1])
        return hidden

    def _padded(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``self.rnn`` over the zero-padded batch ``(B, T, F)`` with its own weights, one layer
        per call, each direction reading padding only after an utterance's valid frames.

        Bidirectional layers run over the batch twice, the second copy right-aligned
        (``roll_rows``): the forward direction's outputs are read from the first copy and
        the backward direction's from the second, so one cuDNN call runs both directions at
        once (a GPU step is bound by the length of the chain of time steps, not arithmetic).
        With ``persistent = True``, LSTM layers (no projection) on CUDA run instead as one
        Triton kernel per layer for all time steps (``phonelstm.persistent_lstm``), when the
        GPU can hold its grid."""
        rnn, run = self.rnn, _CELL_FUNCTIONS[self.cfg.cell]
        directions = 2 if rnn.bidirectional else 1
        B, T = x.shape[:2]
        # cuDNN has persistent kernels of its own for hidden sizes up to 128
        if (self.persistent and self.cfg.cell == "lstm" and not rnn.proj_size
                and rnn.hidden_size > 128 and x.is_cuda):
            from phonelstm import persistent_lstm  # Triton: imported only where CUDA runs

            rows = persistent_lstm.block_rows(directions, B, rnn.hidden_size, x.device)
        else:
            rows = None
        shift = T - lengths.to(x.device)  # (B,) padding frames of each utterance
        h0 = x.new_zeros(directions, directions * B, rnn.proj_size or rnn.hidden_size)
        state = ((h0, x.new_zeros(directions, directions * B, rnn.hidden_size))
                 if self.cfg.cell == "lstm" else h0)
        for layer in range(rnn.num_layers):
            if layer:
                x = nn.functional.dropout(x, rnn.dropout, self.training)
            weights = [getattr(rnn, name) for name in rnn._flat_weights_names
                       if name.rsplit("_l", 1)[1] in (str(layer), f"{layer}_reverse")]
            if rows:
                both = torch.stack([x, reverse_padded(x, lengths)][:directions])  # (D, B, T, F)
                h = persistent_lstm.lstm_layer(both, weights, rows)  # (D, B, T, H)
                x = torch.cat([h[0], reverse_padded(h[1], lengths)], dim=-1) if (
                    directions == 2) else h[0]  # (B, T, D * H)
                continue
            if directions == 1:
                x = run(x, state, weights, rnn.bias, 1, 0.0, self.training, False, True)[0]
                continue
            both = torch.cat([x, roll_rows(x, shift)])  # (2B, T, F)
            out = run(both, state, weights, rnn.bias, 1, 0.0, self.training, True,
                      True)[0]  # (2B, T, 2H)
            H = out.shape[-1] // 2
            x = torch.cat([out[:B, :, :H], roll_rows(out[B:, :, H:], -shift)],
                          dim=-1)  # (B, T, 2H)
        return x


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


_ARCHS = {"rnn": RecurrentModel, "mlp": MLP}


def build_model(cfg: ModelConfig, input_dim: int, num_classes: int) -> nn.Module:
    if cfg.arch not in _ARCHS:
        raise ModelConfigError(f"model.arch must be one of {sorted(_ARCHS)}, got {cfg.arch!r}")
    return _ARCHS[cfg.arch](cfg, input_dim, num_classes)


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
