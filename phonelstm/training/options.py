"""``trainer.*`` and ``optim.*`` turned into decisions and objects, once, before training."""

from __future__ import annotations

import torch

from phonelstm.config import TrainConfig, TrainerConfig
from phonelstm.data.augment import check_augment
from phonelstm.data.augment import enabled as augment_enabled
from phonelstm.errors import PhonelstmError

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_trainer(cfg: TrainConfig) -> None:
    t = cfg.trainer
    if t.task not in ("ctc", "framewise"):
        raise PhonelstmError(f"trainer.task must be 'ctc' or 'framewise', got {t.task!r}")
    if t.task == "framewise" and cfg.model.stack_frames != 1:
        raise PhonelstmError("model.stack_frames must be 1 for trainer.task=framewise")
    if t.amp not in AMP_DTYPES:
        raise PhonelstmError(f"trainer.amp must be one of {sorted(AMP_DTYPES)}, got {t.amp!r}")
    if t.weight_noise < 0:
        raise PhonelstmError(f"trainer.weight_noise must be >= 0, got {t.weight_noise}")
    if t.beam < 1:
        raise PhonelstmError(f"trainer.beam must be >= 1, got {t.beam}")
    if cfg.data.train_repeat < 1:
        raise PhonelstmError(f"data.train_repeat must be >= 1, got {cfg.data.train_repeat}")
    if t.static_frames < 1:
        raise PhonelstmError(f"trainer.static_frames must be >= 1, got {t.static_frames}")
    check_augment(cfg.data.augment)
    if augment_enabled(cfg.data.augment) and cfg.features.cache:
        raise PhonelstmError("data.augment changes the waveforms: it needs features.cache=false")


def use_fast_path(trainer: TrainerConfig, device: torch.device) -> bool:
    """``trainer.fast``, where unset (null) means on for CUDA, off elsewhere."""
    return device.type == "cuda" if trainer.fast is None else trainer.fast


def check_device(trainer: TrainerConfig, device: torch.device) -> None:
    if trainer.amp == "fp16" and device.type != "cuda":
        # oneDNN has no fp16 LSTM kernel
        raise PhonelstmError("trainer.amp=fp16 needs a CUDA device; use trainer.amp=bf16 on CPU")


def recurrence(trainer: TrainerConfig, fast: bool) -> str:
    """How the model's recurrent layers run (``phonelstm.recurrence``): the fast path needs
    the padded batch as it is, with the persistent LSTM kernel unless turned off."""
    if not fast:
        return "packed"
    return "persistent" if trainer.persistent_lstm else "padded"


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "adam":
        return torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum,
                               weight_decay=o.weight_decay)
    raise PhonelstmError(f"optim.name must be 'adam' or 'sgd', got {o.name!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig
                    ) -> torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    o = cfg.optim
    if o.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=o.plateau_factor, patience=o.plateau_patience)
    if o.schedule == "none":
        return None
    raise PhonelstmError(f"optim.schedule must be 'plateau' or 'none', got {o.schedule!r}")
