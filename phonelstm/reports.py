"""Score reports written to a folder: ``phonelstm-evaluate``'s summary and the frame report
of a framewise model's test set. The numbers come from ``phonelstm.metrics``."""

from __future__ import annotations

import json
from pathlib import Path

from phonelstm.io import atomic_write_text
from phonelstm.metrics import EPS, ConfusionMatrix, ErrorCounts, Scores
from phonelstm.plots import plot_confusion


def _counts_json(c: ErrorCounts) -> dict:
    return {"per": round(c.rate, 3), "ref_phones": c.ref_len, "errors": c.errors, "sub": c.sub,
            "del": c.dels, "ins": c.ins}


def summary_json(scores: Scores, top: int, extra: dict) -> dict:
    """Totals, ``extra``, per speaker, per phone and the ``top`` confusions."""
    return {
        **_counts_json(scores.errors), "utterances": scores.utterances, **extra,
        "speakers": {s: _counts_json(c) for s, c in sorted(scores.speakers.items())},
        "phones": {p: {"count": e.ref_len, "correct": e.correct, "sub": e.sub, "del": e.dels,
                       "ins": e.ins, "error_rate": round(e.rate, 3)}
                   for p, e in sorted(scores.phones.items())},
        "confusions": [{"ref": r, "hyp": h, "count": n} for r, h, n in scores.confusions(top)],
    }


def summary_text(scores: Scores, top: int, title: str, frame_accuracy: float | None) -> str:
    lines = [title, f"{scores.errors.summary()} over {scores.utterances} utterances"]
    if frame_accuracy is not None:
        lines.append(f"frame accuracy {frame_accuracy:.2f}%")
    lines += ["", f"{'speaker':<16}{'PER%':>7}{'phones':>8}{'sub':>6}{'del':>6}{'ins':>6}"]
    for s, c in sorted(scores.speakers.items()):
        lines.append(f"{s:<16}{c.rate:>7.2f}{c.ref_len:>8}{c.sub:>6}{c.dels:>6}{c.ins:>6}")
    lines += ["", f"{'phone':<8}{'count':>7}{'err%':>7}{'sub':>6}{'del':>6}{'ins':>6}"]
    ranked = sorted(scores.phones.items(), key=lambda kv: (-kv[1].rate, -kv[1].ref_len, kv[0]))
    for p, e in ranked:
        lines.append(f"{p:<8}{e.ref_len:>7}{e.rate:>7.1f}{e.sub:>6}{e.dels:>6}{e.ins:>6}")
    lines += ["", f"most frequent confusions (reference -> hypothesis, {EPS} = none)"]
    lines += [f"{r:>6} -> {h:<6}{n:>6}" for r, h, n in scores.confusions(top)]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, scores: Scores, top: int, title: str, extra: dict,
                  frame_accuracy: float | None) -> tuple[dict, str]:
    """``summary.json``, ``summary.txt`` and ``confusion.png`` in ``out``; returns the JSON
    content and the text."""
    if frame_accuracy is not None:
        extra = {**extra, "frame_accuracy": round(frame_accuracy, 3)}
    summary = summary_json(scores, top, extra)
    matrix = scores.confusion_matrix()
    plot_confusion(matrix, out / "confusion.png", f"{scores.errors.summary()}")
    summary["confusion_matrix"] = {"labels": list(matrix.labels),
                                   "counts": matrix.counts.tolist()}
    text = summary_text(scores, top, title, frame_accuracy)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(out / "summary.txt", text)
    return summary, text


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
        plot_confusion(m, out_dir / f"{name}_confusion{classes}.png",
                       f"{name}: {classes} classes, frame accuracy {m.accuracy:.1f}%")
    atomic_write_text(out_dir / f"{name}_frames.json", json.dumps(report, indent=1) + "\n")
    return report
