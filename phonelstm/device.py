"""Which torch device a command runs on: one rule for ``train``, ``decode`` and ``evaluate``."""

from __future__ import annotations

import torch

from phonelstm.errors import PhonelstmError


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when there is a GPU, else the CPU; an unavailable CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PhonelstmError(f"trainer.device={name}: CUDA is not available on this machine")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU with its thread count (recorded in ``results.json``)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"
