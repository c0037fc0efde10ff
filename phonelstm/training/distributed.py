"""Data-parallel training under ``torchrun``: the process group, each rank's role, collectives.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; with them ``setup`` joins the
process group (NCCL on GPUs, gloo on CPU) and pins each rank to GPU ``LOCAL_RANK``. Without
them training runs in one process and every helper here returns its input unchanged, so the
single-process path does no communication at all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from phonelstm.errors import PhonelstmError

# Ranks other than 0 wait in a collective while rank 0 alone scores the dev set.
TIMEOUT = timedelta(minutes=60)


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    enabled: bool = False  # a process group exists (the job was launched by torchrun)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE_PROCESS = Context()


def setup(device: torch.device) -> tuple[Context, torch.device]:
    """Join the torchrun process group if there is one; returns the context and this rank's
    device (``cuda:LOCAL_RANK`` when ``device`` is CUDA)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return SINGLE_PROCESS, device
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if local_rank >= torch.cuda.device_count():
            raise PhonelstmError(f"LOCAL_RANK={local_rank} but this node has only "
                                 f"{torch.cuda.device_count()} GPU(s): lower --nproc_per_node")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    if rank != 0:  # rank 0 alone logs progress; warnings and errors of every rank still show
        logging.getLogger().setLevel(logging.WARNING)
    return Context(rank, world_size, enabled=True), device


def teardown(ctx: Context) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(ctx: Context, tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks, in place."""
    if ctx.enabled:
        dist.all_reduce(tensor)
    return tensor


def global_mean(ctx: Context, loss: torch.Tensor, count: int) -> torch.Tensor:
    """``loss``, a mean over this rank's ``count`` items (utterances or frames), rescaled so
    that DDP's average of the ranks' gradients is the gradient of the mean over all items,
    as in one process training on the whole batch."""
    if not ctx.enabled:
        return loss
    total = all_reduce_sum(ctx, torch.tensor(float(count), dtype=torch.float64,
                                             device=loss.device))
    return loss * (count * ctx.world_size / total).to(loss.dtype)


def any_rank(ctx: Context, flags: list[bool], device: torch.device) -> list[bool]:
    """Each flag, true if it is true on any rank (one collective for all of them)."""
    if not ctx.enabled:
        return flags
    votes = torch.tensor(flags, dtype=torch.float32, device=device)
    dist.all_reduce(votes, op=dist.ReduceOp.MAX)
    return [bool(v) for v in votes.tolist()]


def broadcast_float(ctx: Context, value: float, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank."""
    if not ctx.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return float(tensor)


@torch.no_grad()
def broadcast_module(ctx: Context, module: nn.Module) -> None:
    """Rank 0's parameters and buffers on every rank, in place, as DDP's constructor does."""
    if not ctx.enabled:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.detach(), src=0)


@torch.no_grad()
def average_gradients(ctx: Context, params: Iterable[nn.Parameter]) -> None:
    """Average the gradients of ``params`` over ranks, in place, with one all-reduce of them
    all flattened: what DDP does during the backward, for a model it does not wrap (the
    CUDA-graphed fast path). A missing gradient counts as zeros, so every rank sends the same
    layout; afterwards every parameter has one."""
    if not ctx.enabled:
        return
    params = [p for p in params if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in params])  # (sum of the parameters' sizes,)
    dist.all_reduce(flat)
    flat /= ctx.world_size
    for p, grad in zip(params, flat.split([p.numel() for p in params]), strict=True):
        if p.grad is None:
            p.grad = grad.view_as(p).clone()
        else:
            p.grad.copy_(grad.view_as(p))


def gather(ctx: Context, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (picklable objects; CPU tensors inside)."""
    if not ctx.enabled:
        return [obj]
    objects: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(objects, obj)
    return objects


def barrier(ctx: Context) -> None:
    if ctx.enabled:
        dist.barrier()
