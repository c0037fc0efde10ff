"""Scoring: phone error rate from an edit-distance alignment, and frame accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import kaldialign
import torch
from torch import Tensor

EPS = "*"


@dataclass
class ErrorCounts:
    """Edit-distance counts against ``ref_len`` reference phones."""

    ref_len: int = 0
    sub: int = 0
    dels: int = 0
    ins: int = 0

    @property
    def errors(self) -> int:
        return self.sub + self.dels + self.ins

    @property
    def rate(self) -> float:
        """Error rate in percent (0 for an empty reference with no insertions)."""
        if self.ref_len == 0:
            return 0.0 if self.ins == 0 else 100.0 * self.ins
        return 100.0 * self.errors / self.ref_len

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(self.ref_len + other.ref_len, self.sub + other.sub,
                           self.dels + other.dels, self.ins + other.ins)

    def summary(self, name: str = "PER") -> str:
        return (f"{name} {self.rate:.2f}% ({self.errors} errors / {self.ref_len} phones: "
                f"{self.sub} sub, {self.dels} del, {self.ins} ins)")


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[str, str]]:
    """Minimum-edit alignment; ``EPS`` marks a deletion (in hyp) or insertion (in ref)."""
    return kaldialign.align(list(ref), list(hyp), EPS)


def count_errors(ref: Sequence[str], hyp: Sequence[str]) -> ErrorCounts:
    counts = ErrorCounts(ref_len=len(ref))
    for r, h in align(ref, hyp):
        if r == EPS:
            counts.ins += 1
        elif h == EPS:
            counts.dels += 1
        elif r != h:
            counts.sub += 1
    return counts


def frame_accuracy(predicted: Tensor, target: Tensor, ignore_index: int = -100) -> tuple[int, int]:
    """Correct and total counts over frames whose target is not ``ignore_index``."""
    valid = target != ignore_index
    return int((predicted[valid] == target[valid]).sum()), int(valid.sum())


def to_list(x: Tensor) -> list[int]:
    return torch.as_tensor(x).tolist()
