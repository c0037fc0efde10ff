"""Evaluation pictures (matplotlib, no display needed): confusion matrix, utterance views."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phonelstm.io import atomic_write  # noqa: E402
from phonelstm.metrics import EPS, ConfusionMatrix  # noqa: E402

Segment = tuple[str, float, float]  # phone, start, end (seconds)


def _save(fig: plt.Figure, path: Path) -> None:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def plot_confusion(matrix: ConfusionMatrix, path: Path, title: str) -> None:
    """Row-normalised confusion counts ``(R, H)``: rows reference, columns hypothesis."""
    counts = matrix.counts.numpy()
    labels = matrix.labels
    rows = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    gap = EPS in labels  # aligned phone pairs: EPS marks insertions and deletions
    size = 3 + 0.22 * len(labels)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel(f"hypothesis ({EPS} = deletion)" if gap else "hypothesis")
    ax.set_ylabel(f"reference ({EPS} = insertion)" if gap else "reference")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04, label="fraction of the reference row")
    fig.tight_layout()
    _save(fig, path)


def _tier(ax: plt.Axes, segments: Sequence[Segment], name: str) -> None:
    for i, (phone, start, end) in enumerate(segments):
        ax.axvspan(start, end, color="C0" if i % 2 else "C1", alpha=0.3)
        ax.text((start + end) / 2, 0.5, phone, ha="center", va="center", fontsize=7)
    ax.set_yticks([])
    ax.set_ylabel(name, rotation=0, ha="right", va="center")


def plot_utterance(wave: np.ndarray, sample_rate: int, reference: Sequence[Segment],
                   hypothesis: Sequence[Segment], path: Path, title: str) -> None:
    """Spectrogram with reference and hypothesis phone segments under it."""
    duration = len(wave) / sample_rate
    fig, axes = plt.subplots(3, 1, figsize=(max(8.0, 2.5 * duration), 4.5), sharex=True,
                             gridspec_kw={"height_ratios": [4, 1, 1]})
    axes[0].specgram(wave, NFFT=400, Fs=sample_rate, noverlap=240, cmap="magma")
    axes[0].set_ylabel("Hz")
    axes[0].set_title(title, fontsize=9)
    _tier(axes[1], reference, "reference")
    _tier(axes[2], hypothesis, "hypothesis")
    axes[2].set_xlim(0, duration)
    axes[2].set_xlabel("seconds")
    fig.tight_layout()
    _save(fig, path)
