"""Scoring: phone error rate from an edit-distance alignment, frame accuracy, confusions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import kaldialign
import torch
from torch import Tensor

from phonelstm.io import atomic_write, atomic_write_text
from phonelstm.phones import TIMIT39, TIMIT48, fold

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


class ConfusionMatrix:
    """Frame counts of (reference, hypothesis) class pairs: ``counts[ref, hyp]``."""

    def __init__(self, labels: Sequence[str], counts: Tensor | None = None) -> None:
        self.labels = tuple(labels)
        n = len(self.labels)
        self.counts = torch.zeros(n, n, dtype=torch.long) if counts is None else counts

    def update(self, reference: Tensor, hypothesis: Tensor, ignore_index: int = -100) -> None:
        """Add frames given as class indices of any (equal) shape; ``ignore_index`` is skipped."""
        valid = reference != ignore_index
        n = len(self.labels)
        pairs = reference[valid].cpu() * n + hypothesis[valid].cpu()
        self.counts += torch.bincount(pairs, minlength=n * n).view(n, n)

    @property
    def frames(self) -> int:
        return int(self.counts.sum())

    @property
    def accuracy(self) -> float:
        """Percentage of frames on the diagonal."""
        return 100.0 * int(self.counts.trace()) / max(self.frames, 1)

    def per_class_accuracy(self) -> dict[str, float | None]:
        """Per reference class: percentage of its frames classified right (None: no frames)."""
        totals = self.counts.sum(1).tolist()
        return {label: 100.0 * int(self.counts[k, k]) / total if total else None
                for k, (label, total) in enumerate(zip(self.labels, totals, strict=True))}

    def fold(self, target: int = 39) -> ConfusionMatrix:
        """The TIMIT-61 matrix folded to 48 or 39 classes; frames with ``q`` on either side
        are dropped, as ``q`` is removed from both sides when scoring."""
        classes = {48: TIMIT48, 39: TIMIT39}[target]
        index = torch.tensor([classes.index(f[0]) if (f := fold([label], target)) else -1
                              for label in self.labels])
        rows = index.unsqueeze(1).expand_as(self.counts)
        cols = index.unsqueeze(0).expand_as(self.counts)
        keep = (rows >= 0) & (cols >= 0)
        counts = torch.zeros(len(classes), len(classes), dtype=torch.long)
        counts.index_put_((rows[keep], cols[keep]), self.counts[keep], accumulate=True)
        return ConfusionMatrix(classes, counts)

    def to_csv(self) -> str:
        """Rows are references, columns hypotheses, both headed by their labels."""
        lines = [",".join(["ref\\hyp", *self.labels])]
        lines += [",".join([label, *map(str, row)])
                  for label, row in zip(self.labels, self.counts.tolist(), strict=True)]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | Path, title: str) -> None:
        """Save the row-normalised matrix (share of each reference's frames) as an image."""
        from matplotlib.figure import Figure

        rates = self.counts.double() / self.counts.sum(1, keepdim=True).clamp(min=1)
        n = len(self.labels)
        figure = Figure(figsize=(4 + n * 0.16, 3.5 + n * 0.16))
        axes = figure.add_subplot()
        image = axes.imshow(rates.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
        axes.set_xticks(range(n), self.labels, rotation=90, fontsize=6)
        axes.set_yticks(range(n), self.labels, fontsize=6)
        axes.set_xlabel("hypothesis")
        axes.set_ylabel("reference")
        axes.set_title(title)
        figure.colorbar(image, ax=axes, fraction=0.04, label="share of reference frames")
        figure.tight_layout()
        with atomic_write(path) as tmp:
            figure.savefig(tmp, dpi=120)


def write_frame_report(matrix: ConfusionMatrix, out_dir: str | Path, name: str) -> dict:
    """Frame accuracy on 61 and 39 classes, per-phone accuracy and confusion matrices.

    Writes ``<name>_frames.json``, ``<name>_confusion{61,39}.csv`` and ``.png`` into
    ``out_dir``; returns the JSON content.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"frames": matrix.frames}
    for classes, m in ((61, matrix), (39, matrix.fold(39))):
        report[f"accuracy_{classes}"] = m.accuracy
        report[f"per_phone_accuracy_{classes}"] = m.per_class_accuracy()
        atomic_write_text(out_dir / f"{name}_confusion{classes}.csv", m.to_csv())
        m.plot(out_dir / f"{name}_confusion{classes}.png",
               f"{name}: {classes} classes, frame accuracy {m.accuracy:.1f}%")
    atomic_write_text(out_dir / f"{name}_frames.json", json.dumps(report, indent=1) + "\n")
    return report
