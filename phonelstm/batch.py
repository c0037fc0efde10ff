"""``Batch``: the padded arrays one training or scoring step takes.

Below ``features``, ``data`` and ``scoring``, which all take it, so that none of them imports
another for it: the data loaders make batches, features and scoring read their arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Batch:
    ids: list[str]
    wave: Tensor | None  # (B, N) zero-padded; None when feats are given
    wave_lengths: Tensor | None  # (B,)
    targets: Tensor  # (B, L) zero-padded
    target_lengths: Tensor  # (B,)
    frame_labels: Tensor | None  # (B, T) padded with IGNORE
    feats: Tensor | None = None  # (B, T, F) cached un-normalised features, zero-padded
    feat_lengths: Tensor | None = None  # (B,) frames
    # (B,) VTLP frequency warp factors on the host, drawn by the augmentation; None: no warp
    warp: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        move = lambda x: None if x is None else x.to(device, non_blocking=True)  # noqa: E731
        return Batch(self.ids, move(self.wave), move(self.wave_lengths), move(self.targets),
                     self.target_lengths.to(device), move(self.frame_labels), move(self.feats),
                     move(self.feat_lengths), self.warp)
