"""Gaussian weight noise (Graves 2011; Graves, Mohamed & Hinton 2013, std 0.075).

Noise is sampled afresh for every training batch (every sequence at batch size 1), added to
the weights for the forward and backward pass only, and removed before the optimiser step:
the gradient is taken at the noisy weights and applied to the clean ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def weight_noise(model: nn.Module, std: float) -> Iterator[None]:
    """Add ``N(0, std^2)`` noise to every parameter inside the block; restore them on exit.

    Run the forward pass and ``backward()`` inside the block (autograd needs the weights it
    saved), and the optimiser step after it. ``std <= 0`` is a no-op.
    """
    if std <= 0:
        yield
        return
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        clean = [p.detach().clone() for p in params]
        for p in params:
            p.add_(torch.randn_like(p) * std)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, c in zip(params, clean, strict=True):
                p.copy_(c)
