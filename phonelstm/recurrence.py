"""How a stack of recurrent layers runs over a batch: one interface, four implementations.

The layers hold the weights (``nn.LSTM``/``GRU``/``RNN``, or ``PeepholeLSTM`` layers; their
``state_dict`` keys are the checkpoint format); a ``Recurrence`` runs them over zero-padded
features ``x: (B, T, F)`` with valid lengths ``(B,)`` and returns ``(B, T, directions * H)``,
whose valid frames never depend on padding. ``build_model`` picks one when the model is built:

- ``packed``: cuDNN over packed sequences (the default; syncs with the host for the lengths);
- ``padded``: one cuDNN call per layer over the padded batch itself, both directions at once:
  no host synchronisation and static shapes, which CUDA graphs need (the fast path);
- ``persistent``: ``padded`` whose LSTM layers run as one Triton kernel per layer on CUDA
  (``phonelstm.persistent_lstm``) where the GPU can hold its grid;
- ``peephole``: the peephole LSTM's own step-by-step scan, which cuDNN cannot run; it takes
  padded batches as they are, so it serves every request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from phonelstm.config import ModelConfig

# the functions nn.LSTM/GRU/RNN call (cuDNN on GPUs), for one layer at a time
_CELL_FUNCTIONS = {"lstm": torch.lstm, "gru": torch.gru, "rnn_tanh": torch.rnn_tanh}


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


class Recurrence(ABC):
    """Runs ``rnn`` (the model's recurrent layers) over ``x: (B, T, F)``; returns ``(B, T, H')``."""

    @abstractmethod
    def __call__(self, rnn: nn.Module, x: Tensor, lengths: Tensor) -> Tensor: ...


class Packed(Recurrence):
    """``rnn`` over packed sequences: cuDNN skips the padding itself."""

    def __call__(self, rnn: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = rnn(packed)
        hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=x.shape[1])
        return hidden


def layer_weights(rnn: nn.RNNBase, layer: int) -> list[Tensor]:
    """Layer ``layer``'s weights in the order the cell functions take them: forward
    direction, then reverse, each ``weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr]``."""
    directions = 2 if rnn.bidirectional else 1
    return [w for d in range(directions) for w in rnn.all_weights[layer * directions + d]]


@dataclass(frozen=True)
class Padded(Recurrence):
    """``rnn``'s weights over the zero-padded batch, one layer per call, each direction
    reading padding only after an utterance's valid frames.

    Bidirectional layers run over the batch twice, the second copy right-aligned
    (``roll_rows``): the forward direction's outputs are read from the first copy and the
    backward direction's from the second, so one cuDNN call runs both directions at once (a
    GPU step is bound by the length of the chain of time steps, not arithmetic).
    """

    cell: str  # lstm | gru | rnn_tanh

    def __call__(self, rnn: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
        run = _CELL_FUNCTIONS[self.cell]
        directions = 2 if rnn.bidirectional else 1
        B, T = x.shape[:2]
        shift = T - lengths.to(x.device)  # (B,) padding frames of each utterance
        h0 = x.new_zeros(directions, directions * B, rnn.proj_size or rnn.hidden_size)
        state = ((h0, x.new_zeros(directions, directions * B, rnn.hidden_size))
                 if self.cell == "lstm" else h0)
        for layer in range(rnn.num_layers):
            if layer:
                x = nn.functional.dropout(x, rnn.dropout, rnn.training)
            weights = layer_weights(rnn, layer)
            if directions == 1:
                x = run(x, state, weights, rnn.bias, 1, 0.0, rnn.training, False, True)[0]
                continue
            both = torch.cat([x, roll_rows(x, shift)])  # (2B, T, F)
            out = run(both, state, weights, rnn.bias, 1, 0.0, rnn.training, True,
                      True)[0]  # (2B, T, 2H)
            H = out.shape[-1] // 2
            x = torch.cat([out[:B, :, :H], roll_rows(out[B:, :, H:], -shift)],
                          dim=-1)  # (B, T, 2H)
        return x


@dataclass(frozen=True)
class Persistent(Padded):
    """``Padded`` with each LSTM layer (no projection) as one Triton kernel over all time
    steps on CUDA, when the GPU can hold its grid; elsewhere ``Padded`` itself."""

    def __call__(self, rnn: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
        # cuDNN has persistent kernels of its own for hidden sizes up to 128
        if (self.cell != "lstm" or rnn.proj_size or rnn.hidden_size <= 128
                or not x.is_cuda):
            return super().__call__(rnn, x, lengths)
        from phonelstm import persistent_lstm  # Triton: imported only where CUDA runs

        directions = 2 if rnn.bidirectional else 1
        rows = persistent_lstm.block_rows(directions, x.shape[0], rnn.hidden_size, x.device)
        if not rows:
            return super().__call__(rnn, x, lengths)
        for layer in range(rnn.num_layers):
            if layer:
                x = nn.functional.dropout(x, rnn.dropout, rnn.training)
            both = torch.stack([x, reverse_padded(x, lengths)][:directions])  # (D, B, T, F)
            h = persistent_lstm.lstm_layer(both, layer_weights(rnn, layer), rows)  # (D, B, T, H)
            x = torch.cat([h[0], reverse_padded(h[1], lengths)], dim=-1) if (
                directions == 2) else h[0]  # (B, T, D * H)
        return x


@dataclass(frozen=True)
class Peephole(Recurrence):
    """``PeepholeLSTM`` layers (an ``nn.ModuleList``) with dropout between them."""

    dropout: float

    def __call__(self, rnn: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
        for index, layer in enumerate(rnn):
            x = layer(nn.functional.dropout(x, self.dropout, rnn.training) if index else x,
                      lengths)
        return x


RECURRENCES = ("packed", "padded", "persistent")


def make_recurrence(cfg: ModelConfig, kind: str = "packed") -> Recurrence:
    """The implementation ``kind`` (one of ``RECURRENCES``) of ``cfg``'s recurrent layers."""
    if kind not in RECURRENCES:
        raise ValueError(f"recurrence must be one of {RECURRENCES}, got {kind!r}")
    if cfg.peephole:
        return Peephole(cfg.dropout)
    if kind == "packed":
        return Packed()
    return Padded(cfg.cell) if kind == "padded" else Persistent(cfg.cell)
