"""A persistent LSTM recurrence for CUDA (Triton): one kernel runs every time step of a layer.

cuDNN runs an LSTM layer of hidden size 250 as a couple of small kernels per time step, so
a 5 x 250 BLSTM training step is bound by the length of that chain of kernels, even inside a
CUDA graph (PyTorch picks cuDNN's persistent kernels for small hidden sizes only). Here one
kernel runs all ``T`` steps of a layer, both directions at once: each program keeps a
slice of ``U`` hidden units' recurrent weights on chip for the whole sequence, computes
those units for a block of utterances, publishes its ``h_t`` slice and waits at a barrier
(a counter in global memory) until every program of its direction and block has published
``h_t``. The backward kernel runs the same way from ``T - 1`` down to 0. The input
projections and the weight gradients are single large matrix products outside the kernels.

The barrier needs every program of the grid resident at once: ``block_rows`` sizes the grid
to the number of multiprocessors, and callers fall back to cuDNN where it cannot fit.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

UNITS = 16  # hidden units per program (tl.dot needs tiles of at least 16)


@triton.jit
def _sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def _tanh(x):
    return 2.0 * _sigmoid(2.0 * x) - 1.0


@triton.jit
def _barrier(counter, target):
    """Publish this program's stores, then wait until ``target`` programs have arrived."""
    tl.debug_barrier()
    tl.atomic_add(counter, 1, sem="release")
    seen = tl.atomic_add(counter, 0, sem="acquire")
    while seen < target:
        seen = tl.atomic_add(counter, 0, sem="acquire")
    tl.debug_barrier()


@triton.jit
def _split4(x, BB: tl.constexpr, U: tl.constexpr):
    """``(BB, 4U)`` with columns ordered (gate, unit) -> four ``(BB, U)`` gates."""
    x = tl.permute(tl.reshape(x, (BB, 4, U)), (0, 2, 1))  # (BB, U, 4)
    even, odd = tl.split(tl.reshape(x, (BB, U, 2, 2)))  # gates (0, 2) and (1, 3)
    i, z = tl.split(even)
    f, o = tl.split(odd)
    return i, f, z, o


@triton.jit
def _forward_kernel(G, W, Hs, Cs, A, counters, T, B,
                    HID: tl.constexpr, HP: tl.constexpr, U: tl.constexpr, BB: tl.constexpr,
                    LOW: tl.constexpr):
    # G: (D, T, B, 4H) input pre-activations; W: (D, 4H, H) recurrent weights
    # Hs, Cs: (D, T, B, H) hidden and cell states; A: (D, T, B, 4H) gate activations
    pu, pb, d = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    units = pu * U + tl.arange(0, U)
    rows = pb * BB + tl.arange(0, BB)
    k = tl.arange(0, HP)
    umask, rmask, kmask = units < HID, rows < B, k < HID
    # this program's columns of the four gates, ordered (gate, unit): G4 = (gate, unit) of
    # each column, and its recurrent weights (HP, 4U), so that h @ w gives (BB, 4U)
    col = tl.arange(0, 4 * U)
    unit4 = pu * U + col % U
    gate4 = (col // U) * HID + unit4  # row of W, column of G
    mask4 = unit4 < HID
    w = tl.load(W + d * 4 * HID * HID + gate4[None, :] * HID + k[:, None],
                mask=kmask[:, None] & mask4[None, :], other=0.0)
    if LOW:
        w = w.to(tl.bfloat16)
    counter = counters + d * tl.num_programs(1) + pb
    nu = tl.num_programs(0)
    c = tl.zeros((BB, U), dtype=tl.float32)
    out_mask = rmask[:, None] & umask[None, :]
    gptr = G + (d * T * B + rows[:, None]) * 4 * HID + gate4[None, :]
    gmask = rmask[:, None] & mask4[None, :]
    gx = tl.load(gptr, mask=gmask, other=0.0)  # (BB, 4U) of step 0
    for t in range(T):
        hptr = Hs + ((d * T + t - 1) * B + rows[:, None]) * HID + k[None, :]
        h = tl.load(hptr, mask=rmask[:, None] & kmask[None, :] & (t > 0), other=0.0,
                    cache_modifier=".cg")  # (BB, HP): h_{t-1} of all units
        if LOW:
            h = h.to(tl.bfloat16)
        pre = gx + tl.dot(h, w)
        # the next step's inputs, loaded while this step finishes and waits at the barrier
        gx = tl.load(gptr + (t + 1) * B * 4 * HID, mask=gmask & (t + 1 < T), other=0.0)
        i, f, z, o = _split4(pre, BB, U)
        i, f, z, o = _sigmoid(i), _sigmoid(f), _tanh(z), _sigmoid(o)
        c = f * c + i * z
        state = ((d * T + t) * B + rows[:, None]) * HID + units[None, :]
        tl.store(Cs + state, c, mask=out_mask)
        tl.store(Hs + state, o * _tanh(c), mask=out_mask)
        aptr = A + ((d * T + t) * B + rows[:, None]) * 4 * HID + units[None, :]
        tl.store(aptr, i, mask=out_mask)
        tl.store(aptr + HID, f, mask=out_mask)
        tl.store(aptr + 2 * HID, z, mask=out_mask)
        tl.store(aptr + 3 * HID, o, mask=out_mask)
        _barrier(counter, nu * (t + 1))


@triton.jit
def _saved_step(dHs, Cs, A, t, T, B, d, rows, units, mask, HID: tl.constexpr):
    """Step ``t``'s output gradient, gate activations and cell states ``c_t``, ``c_{t-1}``
    for this program's ``(BB, U)`` tile."""
    state = ((d * T + t) * B + rows[:, None]) * HID + units[None, :]
    aptr = A + ((d * T + t) * B + rows[:, None]) * 4 * HID + units[None, :]
    return (tl.load(dHs + state, mask=mask, other=0.0),
            tl.load(aptr, mask=mask, other=0.0),
            tl.load(aptr + HID, mask=mask, other=0.0),
            tl.load(aptr + 2 * HID, mask=mask, other=0.0),
            tl.load(aptr + 3 * HID, mask=mask, other=0.0),
            tl.load(Cs + state, mask=mask, other=0.0),
            tl.load(Cs + state - B * HID, mask=mask & (t > 0), other=0.0))


@triton.jit
def _backward_kernel(dHs, Cs, A, W, dG, counters, T, B,
                     HID: tl.constexpr, HP: tl.constexpr, U: tl.constexpr, BB: tl.constexpr,
                     LOW: tl.constexpr):
    # dHs: (D, T, B, H) gradient of the outputs; dG: (D, T, B, 4H) gradient of G
    pu, pb, d = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    units = pu * U + tl.arange(0, U)
    rows = pb * BB + tl.arange(0, BB)
    umask, rmask = units < HID, rows < B
    # all four gates' pre-activations, ordered (gate, unit): (4HP,) positions into 4H
    j = tl.arange(0, 4 * HP)
    gate_j = (j // HP) * HID + j % HP
    jmask = j % HP < HID
    # recurrent weights into this program's units, (4HP, U): dG_{t+1} @ w gives dh (BB, U)
    w = tl.load(W + d * 4 * HID * HID + gate_j[:, None] * HID + units[None, :],
                mask=jmask[:, None] & umask[None, :], other=0.0)
    if LOW:
        w = w.to(tl.bfloat16)
    counter = counters + d * tl.num_programs(1) + pb
    nu = tl.num_programs(0)
    dc_next = tl.zeros((BB, U), dtype=tl.float32)
    f_next = tl.zeros((BB, U), dtype=tl.float32)
    out_mask = rmask[:, None] & umask[None, :]
    dh_out, i, f, z, o, c, c_prev = _saved_step(dHs, Cs, A, T - 1, T, B, d, rows, units,
                                                out_mask, HID)
    for s in range(T):
        t = T - 1 - s
        g_next = tl.load(dG + ((d * T + t + 1) * B + rows[:, None]) * 4 * HID + gate_j[None, :],
                         mask=rmask[:, None] & jmask[None, :] & (t + 1 < T), other=0.0,
                         cache_modifier=".cg")  # (BB, 4HP)
        if LOW:
            g_next = g_next.to(tl.bfloat16)
        dh = dh_out + tl.dot(g_next, w)
        tc = _tanh(c)
        dc = dh * o * (1.0 - tc * tc) + dc_next * f_next
        gptr = dG + ((d * T + t) * B + rows[:, None]) * 4 * HID + units[None, :]
        tl.store(gptr, dc * z * i * (1.0 - i), mask=out_mask)
        tl.store(gptr + HID, dc * c_prev * f * (1.0 - f), mask=out_mask)
        tl.store(gptr + 2 * HID, dc * i * (1.0 - z * z), mask=out_mask)
        tl.store(gptr + 3 * HID, dh * tc * o * (1.0 - o), mask=out_mask)
        dc_next, f_next = dc, f
        # the previous step's saved tensors, loaded while this step waits at the barrier
        dh_out, i, f, z, o, c, c_prev = _saved_step(dHs, Cs, A, t - 1, T, B, d, rows, units,
                                                    out_mask & (t > 0), HID)
        _barrier(counter, nu * (s + 1))


def block_rows(directions: int, batch: int, hidden: int, device: torch.device,
               units: int = UNITS) -> int | None:
    """Utterances per program: 16, or 32 where the grid of programs for 16 would not be
    resident at once on ``device`` (one program per multiprocessor), as the step barrier
    requires; ``None`` where neither fits, or before Ampere (the kernels' bf16 and TF32
    products; measured on Hopper)."""
    properties = torch.cuda.get_device_properties(device)
    if properties.major < 8:
        return None
    sms = properties.multi_processor_count
    for rows in (16, 32):
        if triton.cdiv(hidden, units) * triton.cdiv(batch, rows) * directions <= sms:
            return rows
    return None


def _launch(kernel: triton.JITFunction, tensors: tuple[Tensor, ...], states: torch.Size,
            rows: int, units: int, low: bool) -> None:
    """``kernel`` over ``tensors`` for states of shape ``(D, T, B, H)``: its grid (unit slices,
    row blocks, directions) and fresh step counters, one per direction and row block."""
    D, T, B, H = states
    grid = (triton.cdiv(H, units), triton.cdiv(B, rows), D)
    counters = torch.zeros(grid[1] * D, dtype=torch.int32, device=tensors[0].device)
    kernel[grid](*tensors, counters, T, B, HID=H, HP=max(16, triton.next_power_of_2(H)),
                 U=units, BB=rows, LOW=low, num_warps=8)


class PersistentLSTM(torch.autograd.Function):
    """``h = LSTM recurrence(G, W)`` for ``G: (D, T, B, 4H)`` input pre-activations (biases
    included, gate order i, f, g, o as in ``nn.LSTM``) and ``W: (D, 4H, H)`` recurrent
    weights; returns ``h: (D, T, B, H)``. Each program runs ``units`` hidden units of ``rows``
    utterances. Runs in fp32; ``low`` multiplies in bf16."""

    @staticmethod
    def forward(ctx, G: Tensor, W: Tensor, low: bool, rows: int, units: int) -> Tensor:
        D, T, B, H4 = G.shape
        H = H4 // 4
        G, W = G.float().contiguous(), W.float().contiguous()
        Hs, Cs = G.new_empty(D, T, B, H), G.new_empty(D, T, B, H)
        A = torch.empty_like(G)
        _launch(_forward_kernel, (G, W, Hs, Cs, A), Hs.shape, rows, units, low)
        ctx.save_for_backward(W, Hs, Cs, A)
        ctx.low, ctx.rows, ctx.units = low, rows, units
        return Hs

    @staticmethod
    def backward(ctx, dHs: Tensor) -> tuple[Tensor, Tensor, None, None, None]:
        W, Hs, Cs, A = ctx.saved_tensors
        dG = torch.empty_like(A)
        _launch(_backward_kernel, (dHs.float().contiguous(), Cs, A, W, dG), Hs.shape, ctx.rows,
                ctx.units, ctx.low)
        # dW[d] = sum over t, b of dG_t^T h_{t-1}: one batched product
        dW = torch.einsum("dtbg,dtbh->dgh", dG[:, 1:], Hs[:, :-1])
        return dG, dW, None, None, None


def lstm_layer(x: Tensor, weights: list[Tensor], rows: int, units: int = UNITS) -> Tensor:
    """One LSTM layer over ``x: (D, B, T, F)``, direction ``d`` reading ``x[d]`` forwards with
    ``weights[4d:4d+4]`` (``nn.LSTM``'s ``weight_ih, weight_hh, bias_ih, bias_hh``), ``rows``
    utterances per program (``block_rows``); returns ``(D, B, T, H)``. Under autocast the
    input projection runs in its precision and the recurrent products in bf16."""
    w_ih = torch.stack(weights[0::4])  # (D, 4H, F)
    w_hh = torch.stack(weights[1::4])  # (D, 4H, H)
    bias = torch.stack(weights[2::4]) + torch.stack(weights[3::4])  # (D, 4H)
    G = torch.einsum("dbtf,dgf->dtbg", x, w_ih) + bias[:, None, None, :]  # (D, T, B, 4H)
    low = torch.is_autocast_enabled(x.device.type)
    with torch.autocast(x.device.type, enabled=False):
        h = PersistentLSTM.apply(G, w_hh, low, rows, units)  # (D, T, B, H)
    return h.transpose(1, 2)
