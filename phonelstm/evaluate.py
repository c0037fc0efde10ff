"""``phonelstm-evaluate``: PER report of a model on a manifest, or of hypothesis files.

``checkpoint=<ckpt> data=<manifest.jsonl>`` decodes the manifest's audio and scores it
against its phones; ``hyp=<file> ref=<file>`` scores ``<id> <phone> ...`` lines (speaker:
the id up to its first ``_``). Both sides are folded to ``score_phones`` phones. The report
folder ``out`` gets ``summary.json`` (everything), ``summary.txt`` (printed too),
``confusion.png`` and, with a checkpoint, ``utterances/<id>.png`` pictures.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

from phonelstm import cli
from phonelstm.config import EvaluateConfig, to_dataclass
from phonelstm.data.dataset import frame_labels
from phonelstm.data.manifest import Utterance, read_manifest
from phonelstm.decode import decode_utterances, read_transcripts, report_failures
from phonelstm.device import resolve_device
from phonelstm.errors import PhonelstmError
from phonelstm.io import atomic_write_text
from phonelstm.metrics import EPS, ErrorCounts, align
from phonelstm.phones import fold
from phonelstm.plots import plot_confusion, plot_utterance
from phonelstm.recognizer import Recognizer
from phonelstm.writers import Result, check_writable


class EvaluateError(PhonelstmError):
    """Bad evaluation input (missing settings, ids without references, existing report)."""


@dataclass
class PhoneErrors:
    """Errors of one reference phone (``ins``: times it was inserted in hypotheses)."""

    count: int = 0
    correct: int = 0
    sub: int = 0
    dels: int = 0
    ins: int = 0

    @property
    def rate(self) -> float:
        """(substitutions + deletions) / occurrences, in percent."""
        return 100.0 * (self.sub + self.dels) / max(self.count, 1)


@dataclass
class Report:
    total: ErrorCounts = field(default_factory=ErrorCounts)
    speakers: dict[str, ErrorCounts] = field(default_factory=dict)
    phones: dict[str, PhoneErrors] = field(default_factory=dict)
    pairs: Counter = field(default_factory=Counter)  # (ref, hyp) -> count, EPS for ins/del
    utterances: int = 0

    def add(self, speaker: str, ref: Sequence[str], hyp: Sequence[str]) -> None:
        counts = ErrorCounts(ref_len=len(ref))
        for r, h in align(ref, hyp):
            self.pairs[r, h] += 1
            if r == EPS:
                counts.ins += 1
                self.phones.setdefault(h, PhoneErrors()).ins += 1
                continue
            stats = self.phones.setdefault(r, PhoneErrors())
            stats.count += 1
            if h == EPS:
                counts.dels += 1
                stats.dels += 1
            elif h != r:
                counts.sub += 1
                stats.sub += 1
            else:
                stats.correct += 1
        self.total += counts
        self.speakers[speaker] = self.speakers.get(speaker, ErrorCounts()) + counts
        self.utterances += 1

    def confusions(self, top: int) -> list[tuple[str, str, int]]:
        """The most frequent errors: (reference, hypothesis, count), EPS for ins/del."""
        errors = [(r, h, n) for (r, h), n in self.pairs.items() if r != h]
        return sorted(errors, key=lambda e: (-e[2], e[0], e[1]))[:top]

    def matrix(self) -> tuple[np.ndarray, list[str]]:
        """Confusion counts ``(L, L)`` over the phones seen plus ``EPS`` (last)."""
        labels = sorted({p for pair in self.pairs for p in pair} - {EPS}) + [EPS]
        index = {p: i for i, p in enumerate(labels)}
        matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for (r, h), n in self.pairs.items():
            matrix[index[r], index[h]] += n
        return matrix, labels


def _counts_json(c: ErrorCounts) -> dict:
    return {"per": round(c.rate, 3), "ref_phones": c.ref_len, "errors": c.errors, "sub": c.sub,
            "del": c.dels, "ins": c.ins}


def to_json(report: Report, top: int, extra: dict) -> dict:
    return {
        **_counts_json(report.total), "utterances": report.utterances, **extra,
        "speakers": {s: _counts_json(c) for s, c in sorted(report.speakers.items())},
        "phones": {p: {"count": e.count, "correct": e.correct, "sub": e.sub, "del": e.dels,
                       "ins": e.ins, "error_rate": round(e.rate, 3)}
                   for p, e in sorted(report.phones.items())},
        "confusions": [{"ref": r, "hyp": h, "count": n} for r, h, n in report.confusions(top)],
    }


def summary_text(report: Report, top: int, title: str, frame_accuracy: float | None) -> str:
    lines = [title, f"{report.total.summary()} over {report.utterances} utterances"]
    if frame_accuracy is not None:
        lines.append(f"frame accuracy {frame_accuracy:.2f}%")
    lines += ["", f"{'speaker':<16}{'PER%':>7}{'phones':>8}{'sub':>6}{'del':>6}{'ins':>6}"]
    for s, c in sorted(report.speakers.items()):
        lines.append(f"{s:<16}{c.rate:>7.2f}{c.ref_len:>8}{c.sub:>6}{c.dels:>6}{c.ins:>6}")
    lines += ["", f"{'phone':<8}{'count':>7}{'err%':>7}{'sub':>6}{'del':>6}{'ins':>6}"]
    ranked = sorted(report.phones.items(), key=lambda kv: (-kv[1].rate, -kv[1].count, kv[0]))
    for p, e in ranked:
        lines.append(f"{p:<8}{e.count:>7}{e.rate:>7.1f}{e.sub:>6}{e.dels:>6}{e.ins:>6}")
    lines += ["", f"most frequent confusions (reference -> hypothesis, {EPS} = none)"]
    lines += [f"{r:>6} -> {h:<6}{n:>6}" for r, h, n in report.confusions(top)]
    return "\n".join(lines) + "\n"


def _frame_accuracy(recognizer: Recognizer, utts: dict[str, Utterance],
                    results: Sequence[Result], score_phones: int) -> float | None:
    """Frame accuracy (folded phones, ``q`` frames skipped) of a framewise model."""
    if recognizer.task != "framewise":
        return None
    correct = total = 0
    symbols = recognizer.vocab.symbols
    for r in results:
        utt = utts[r.id]
        if utt.segments is None:
            continue
        predicted = r.log_posteriors.argmax(-1)
        labels = frame_labels(utt, len(predicted), recognizer.vocab, recognizer.config.features)
        for p, t in zip(predicted.tolist(), labels.tolist(), strict=True):
            target = fold([symbols[t]], score_phones)
            if target:
                total += 1
                correct += fold([symbols[p]], score_phones) == target
    return 100.0 * correct / total if total else None


def _check_report_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise EvaluateError(f"{out}: report folder exists and is not empty; "
                            "set overwrite=true to replace its files")
    check_writable(out)


def evaluate(cfg: EvaluateConfig) -> dict:
    out = Path(cfg.out)
    frame_accuracy, results, utts, failed = None, [], {}, {}
    if cfg.hyp is not None and cfg.ref is not None:
        _check_report_folder(out, cfg.overwrite)
        refs, hyps = read_transcripts(cfg.ref), read_transcripts(cfg.hyp)
        unknown = sorted(set(hyps) - set(refs))
        if unknown:
            raise EvaluateError(f"hyp={cfg.hyp}: {len(unknown)} id(s) not in ref={cfg.ref}, "
                                f"e.g. {unknown[0]}")
        speakers = {i: i.split("_")[0] for i in refs}
        title = f"hyp={cfg.hyp} ref={cfg.ref}"
    elif cfg.checkpoint is not None and cfg.data is not None:
        manifest = read_manifest(cfg.data)
        _check_report_folder(out, cfg.overwrite)
        recognizer = Recognizer.from_checkpoint(cfg.checkpoint, str(resolve_device(cfg.device)),
                                                cfg.beam)
        results, failed = decode_utterances(recognizer, manifest, batch_seconds=cfg.batch_seconds,
                                            keep_posteriors=recognizer.task == "framewise")
        utts = {u.id: u for u in manifest}
        decoded = {r.id for r in results}
        refs = {u.id: u.phones for u in manifest if u.id in decoded}
        hyps = {r.id: [p.phone for p in r.phones] for r in results}
        speakers = {u.id: u.speaker for u in manifest}
        frame_accuracy = _frame_accuracy(recognizer, utts, results, cfg.score_phones)
        title = f"checkpoint={cfg.checkpoint} data={cfg.data}"
    else:
        raise EvaluateError("give checkpoint=<ckpt> data=<manifest.jsonl>, "
                            "or hyp=<file> ref=<file>")
    report = Report()
    for utt_id, ref in refs.items():
        report.add(speakers[utt_id], fold(ref, cfg.score_phones),
                   fold(hyps.get(utt_id, []), cfg.score_phones))
    title += f" ({cfg.score_phones} phones)"
    extra = {"score_phones": cfg.score_phones, "missing_hypotheses": len(set(refs) - set(hyps)),
             "skipped_audio": sorted(failed)}
    if frame_accuracy is not None:
        extra["frame_accuracy"] = round(frame_accuracy, 3)
    summary = to_json(report, cfg.top_confusions, extra)
    matrix, labels = report.matrix()
    plot_confusion(matrix, labels, out / "confusion.png", f"{report.total.summary()}")
    summary["confusion_matrix"] = {"labels": labels, "counts": matrix.tolist()}
    wanted = cfg.plot_ids or [r.id for r in results[: cfg.plot_utterances]]
    for r in (r for r in results if r.id in wanted):
        utt = utts[r.id]
        ref_segments = [(p, s, e) for p, (s, e) in zip(utt.phones, utt.segments or [],
                                                       strict=False)]
        wave = recognizer.load(utt.audio)
        plot_utterance(wave.numpy(), recognizer.sample_rate, ref_segments,
                       [(p.phone, p.start, p.end) for p in r.phones],
                       out / "utterances" / f"{r.id}.png", r.id)
    text = summary_text(report, cfg.top_confusions, title, frame_accuracy)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(out / "summary.txt", text)
    print(text, end="")
    print(f"report written to {out}/ (summary.json, summary.txt, confusion.png"
          f"{', utterances/*.png' if wanted and results else ''})")
    report_failures(failed, len(refs) + len(failed), cfg.continue_on_error)
    return summary


# a folder of its own: in conf/, ``data=<manifest>`` would name the training config group
CONF_DIR = str(Path(cli.CONF_DIR) / "evaluate")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="evaluate")
def _hydra_main(cfg: DictConfig) -> None:
    cli.report_errors("phonelstm-evaluate", lambda: evaluate(to_dataclass(EvaluateConfig, cfg)))


def main() -> None:
    cli.run("phonelstm-evaluate", "evaluate", _hydra_main, CONF_DIR)


if __name__ == "__main__":
    main()
