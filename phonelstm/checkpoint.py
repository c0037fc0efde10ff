"""Self-describing checkpoints: everything ``decode`` needs and everything ``train`` resumes.

A checkpoint is a dict saved with ``torch.save``: ``format`` (``FORMAT``), ``version`` (the
phonelstm version that wrote it), ``config`` (the full resolved training config as plain
data), ``symbols`` (the output vocabulary, blank first for CTC), ``model``, ``normalizer``
(feature statistics), and for resuming ``optimizer``, ``scheduler`` (``None`` without a
schedule), ``scaler`` (fp16 loss scaling), ``rng`` (CPU and CUDA generators), ``progress``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from phonelstm import __version__
from phonelstm.config import TrainConfig, to_dataclass
from phonelstm.errors import PhonelstmError
from phonelstm.features import FeatureExtractor, Normalizer
from phonelstm.io import atomic_write
from phonelstm.model import build_model
from phonelstm.phones import Vocabulary

FORMAT = "phonelstm-checkpoint-1"


class CheckpointError(PhonelstmError):
    """A checkpoint is missing, unreadable, or was not written by a compatible phonelstm."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically: a crash mid-save never leaves a truncated checkpoint behind."""
    with atomic_write(path) as tmp:
        torch.save({"format": FORMAT, "version": __version__, **payload}, tmp)


def make_payload(config: TrainConfig, vocab: Vocabulary, model: nn.Module,
                 normalizer: Normalizer, **state: Any) -> dict[str, Any]:
    return {
        "config": asdict(config),
        "symbols": list(vocab.symbols),
        "model": model.state_dict(),
        "normalizer": normalizer.state_dict(),
        **state,
    }


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises many kinds for a damaged or foreign file
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        raise CheckpointError(f"{path}: not a phonelstm checkpoint")
    if ckpt["format"] != FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {ckpt['format']!r} (written by phonelstm "
            f"{ckpt.get('version', '?')}) is not {FORMAT!r}, which phonelstm {__version__} reads"
        )
    ckpt["path"] = str(path)  # where it came from, for messages; not saved
    return ckpt


@torch.no_grad()
def restore(ckpt: dict[str, Any], device: str | torch.device = "cpu"
            ) -> tuple[TrainConfig, Vocabulary, nn.Module, FeatureExtractor, Normalizer]:
    """Rebuild config, vocabulary, model (eval mode), feature extractor and normaliser."""
    config = to_dataclass(TrainConfig, ckpt["config"], strict=False)
    vocab = Vocabulary(tuple(ckpt["symbols"]))
    extractor = FeatureExtractor(config.features).to(device)
    model = build_model(config.model, extractor.dim, len(vocab))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        detail = " ".join(str(err).split("\n\t")[1:3]).strip() or str(err).splitlines()[0]
        raise CheckpointError(f"{ckpt.get('path', 'checkpoint')}: its weights do not fit its own "
                              f"config ({detail})") from None
    normalizer = Normalizer(extractor.dim)
    normalizer.load_state_dict(ckpt["normalizer"])
    return config, vocab, model.to(device).eval(), extractor, normalizer.to(device)
