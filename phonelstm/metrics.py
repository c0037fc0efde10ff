"""Scoring: phone error rate from an edit-distance alignment, frame accuracy, confusions.

``Scores`` is the one scorer; ``phonelstm.reports`` writes what it holds to files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import kaldialign
import torch
from torch import Tensor

from phonelstm.losses import IGNORE
from phonelstm.phones import TIMIT39, TIMIT48, TIMIT61, fold

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
    scores = Scores()
    scores.add(ref, hyp)
    return scores.errors


def frame_accuracy(predicted: Tensor, target: Tensor, ignore_index: int = IGNORE
                   ) -> tuple[int, int]:
    """Correct and total counts over frames whose target is not ``ignore_index``."""
    valid = target != ignore_index
    return int((predicted[valid] == target[valid]).sum()), int(valid.sum())


FOLDED_CLASSES = {61: TIMIT61, 48: TIMIT48, 39: TIMIT39}


def fold_index(labels: Sequence[str], target: int = 39) -> Tensor:
    """Index in ``FOLDED_CLASSES[target]`` of each TIMIT label folded to ``target`` phones;
    ``IGNORE`` for ``q``, which folding removes from both sides when scoring."""
    classes = FOLDED_CLASSES[target]
    return torch.tensor([classes.index(f[0]) if (f := fold([label], target)) else IGNORE
                         for label in labels])


@dataclass
class PhoneErrors(ErrorCounts):
    """Errors of one reference phone: ``ref_len`` its occurrences, ``ins`` the times it was
    inserted in hypotheses (which its ``rate`` leaves out)."""

    @property
    def correct(self) -> int:
        return self.ref_len - self.sub - self.dels

    @property
    def rate(self) -> float:
        """(substitutions + deletions) / occurrences, in percent."""
        return 100.0 * (self.sub + self.dels) / max(self.ref_len, 1)


@dataclass
class Scores:
    """The one scorer: PER with S/D/I in total, per speaker and per phone, the aligned
    (reference, hypothesis) pairs, and frame accuracy; training, evaluation and the scripts
    all add their utterances here."""

    errors: ErrorCounts = field(default_factory=ErrorCounts)
    speakers: dict[str, ErrorCounts] = field(default_factory=dict)
    phones: dict[str, PhoneErrors] = field(default_factory=dict)
    pairs: Counter = field(default_factory=Counter)  # (ref, hyp) -> count, EPS for ins/del
    utterances: int = 0
    frames_correct: int = 0
    frames_total: int = 0

    def add(self, ref: Sequence[str], hyp: Sequence[str], speaker: str | None = None) -> None:
        """Score one utterance's (already folded) phones."""
        counts = ErrorCounts(ref_len=len(ref))
        for r, h in align(ref, hyp):
            self.pairs[r, h] += 1
            if r == EPS:
                counts.ins += 1
                self.phones.setdefault(h, PhoneErrors()).ins += 1
                continue
            stats = self.phones.setdefault(r, PhoneErrors())
            stats.ref_len += 1
            if h == EPS:
                counts.dels += 1
                stats.dels += 1
            elif h != r:
                counts.sub += 1
                stats.sub += 1
        self.errors += counts
        if speaker is not None:
            self.speakers[speaker] = self.speakers.get(speaker, ErrorCounts()) + counts
        self.utterances += 1

    def add_frames(self, predicted: Tensor, target: Tensor) -> None:
        """Count frames given as class indices; ``IGNORE`` targets are skipped."""
        correct, total = frame_accuracy(predicted, target)
        self.frames_correct += correct
        self.frames_total += total

    @property
    def frame_accuracy(self) -> float:
        return 100.0 * self.frames_correct / max(self.frames_total, 1)

    def confusions(self, top: int) -> list[tuple[str, str, int]]:
        """The most frequent errors: (reference, hypothesis, count), EPS for ins/del."""
        errors = [(r, h, n) for (r, h), n in self.pairs.items() if r != h]
        return sorted(errors, key=lambda e: (-e[2], e[0], e[1]))[:top]

    def confusion_matrix(self) -> ConfusionMatrix:
        """Aligned phone pairs over the phones seen plus ``EPS`` (last)."""
        labels = sorted({p for pair in self.pairs for p in pair} - {EPS}) + [EPS]
        index = {p: i for i, p in enumerate(labels)}
        matrix = ConfusionMatrix(labels)
        for (r, h), n in self.pairs.items():
            matrix.counts[index[r], index[h]] += n
        return matrix


class ConfusionMatrix:
    """Counts of (reference, hypothesis) pairs, frames or aligned phones: ``counts[ref, hyp]``."""

    def __init__(self, labels: Sequence[str], counts: Tensor | None = None) -> None:
        self.labels = tuple(labels)
        n = len(self.labels)
        self.counts = torch.zeros(n, n, dtype=torch.long) if counts is None else counts

    def update(self, reference: Tensor, hypothesis: Tensor, ignore_index: int = IGNORE) -> None:
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
        classes = FOLDED_CLASSES[target]
        index = fold_index(self.labels, target)
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
