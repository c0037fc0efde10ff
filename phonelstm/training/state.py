"""What training carries from step to step and across restarts: progress, RNG, checkpoints.

Every checkpoint of a run is written by ``save_state`` and every one it reads (resume,
``trainer.init_from``, the best checkpoint for the final evaluation) is loaded by
``load_weights``, on top of ``phonelstm.checkpoint``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from phonelstm.checkpoint import CheckpointError, load_checkpoint, make_payload, save_checkpoint
from phonelstm.config import TrainConfig
from phonelstm.features import Normalizer
from phonelstm.phones import Vocabulary
from phonelstm.training import distributed

log = logging.getLogger("phonelstm.train")  # the command's log


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint for exact resume."""

    epoch: int = 0  # current epoch (0-based)
    batches_done: int = 0  # batches of the current epoch already trained
    step: int = 0
    best_metric: float = math.inf  # dev PER (ctc) or dev frame error (framewise)
    best_epoch: int = -1
    bad_epochs: int = 0
    skipped_batches: int = 0  # non-finite losses skipped
    train_seconds: float = 0.0


@dataclass
class TrainingState:
    """Everything a checkpoint saves beside the config and the vocabulary."""

    model: nn.Module
    normalizer: Normalizer
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None
    scaler: torch.amp.GradScaler
    progress: Progress = field(default_factory=Progress)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rank_rng_state(ckpt: dict, ctx: distributed.Context) -> dict:
    """This rank's RNG state from a checkpoint; rank 0's when the number of ranks changed."""
    states = ckpt.get("rng_ranks", [ckpt["rng"]])
    if len(states) != ctx.world_size:
        log.warning("resuming with %d process(es) from a checkpoint of %d: the random draws "
                    "(dropout, weight noise) differ from an uninterrupted run", ctx.world_size,
                    len(states))
        return states[0]
    return states[ctx.rank]


def save_state(path: Path, state: TrainingState, cfg: TrainConfig, vocab: Vocabulary,
               ctx: distributed.Context) -> None:
    """Every rank calls this (their RNG states are gathered); rank 0 writes."""
    rng = distributed.gather(ctx, rng_state())
    if not ctx.is_main:
        return
    per_rank = {"rng_ranks": rng} if ctx.world_size > 1 else {}
    scheduler = state.scheduler.state_dict() if state.scheduler is not None else None
    save_checkpoint(path, make_payload(
        cfg, vocab, state.model, state.normalizer, optimizer=state.optimizer.state_dict(),
        scheduler=scheduler, scaler=state.scaler.state_dict(), progress=vars(state.progress),
        rng=rng[0], **per_rank))


def load_weights(path: str | Path, device: torch.device, model: nn.Module,
                 normalizer: Normalizer | None = None, setting: str | None = None
                 ) -> dict[str, Any]:
    """Load a checkpoint's weights (and feature statistics) into ``model`` (``normalizer``);
    returns the checkpoint. ``setting`` names the config key that chose ``path``, for the
    error when the weights do not fit the model."""
    ckpt = load_checkpoint(path, device)
    _apply_weights(ckpt, model, normalizer, f"{setting}={path}" if setting else str(path))
    return ckpt


def _apply_weights(ckpt: dict[str, Any], model: nn.Module, normalizer: Normalizer | None,
                   where: str) -> None:
    try:
        model.load_state_dict(ckpt["model"])
        if normalizer is not None:
            normalizer.load_state_dict(ckpt["normalizer"])
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(f"{where}: weights do not fit model.* ({first})") from None


# settings a checkpoint's weights depend on: resuming with others would mix two models
_SAME_FOR_RESUME = ("model", "features", "trainer.task")
_FREE_FOR_RESUME = ("features.specaugment", "features.cache", "features.backend")


def _flat(tree: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def setting_differences(saved: dict, cfg: TrainConfig) -> list[str]:
    """``key=saved (now new)`` for each model/feature setting that differs from the
    checkpoint's config ``saved``."""
    now, then = _flat(asdict(cfg)), _flat(saved)
    keys = [k for k in now if k.startswith(_SAME_FOR_RESUME)
            and not k.startswith(_FREE_FOR_RESUME)]
    return [f"{k}={then.get(k)} (now {now[k]})" for k in keys if then.get(k) != now[k]]


def resume(state: TrainingState, path: Path, device: torch.device,
           ctx: distributed.Context, cfg: TrainConfig) -> None:
    """Continue exactly where ``path`` left off: weights, optimiser, schedule, loss scale,
    progress and this rank's random generators."""
    ckpt = load_checkpoint(path, device)
    differences = setting_differences(ckpt["config"], cfg)
    if differences:
        raise CheckpointError(
            f"{path.parent}: its last.pt was trained with other settings: "
            f"{', '.join(differences[:4])}{' ...' if len(differences) > 4 else ''}; "
            "choose another out_dir, or resume=false to start over there")
    _apply_weights(ckpt, state.model, state.normalizer, str(path))
    state.optimizer.load_state_dict(ckpt["optimizer"])
    if state.scheduler is not None:
        state.scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt.get("scaler"):  # empty unless trainer.amp=fp16
        state.scaler.load_state_dict(ckpt["scaler"])
    state.progress = Progress(**ckpt["progress"])
    set_rng_state(rank_rng_state(ckpt, ctx))
