"""``phonelstm-evaluate``: PER report of a model on a manifest, or of hypothesis files.

``checkpoint=<ckpt> data=<manifest.jsonl>`` decodes the manifest's audio and scores it
against its phones; ``hyp=<file> ref=<file>`` scores ``<id> <phone> ...`` lines (speaker:
the id up to its first ``_``). Both sides are folded to ``score_phones`` phones. The report
folder ``out`` gets ``summary.json`` (everything), ``summary.txt`` (printed too),
``confusion.png`` and, with a checkpoint, ``utterances/<id>.png`` pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from phonelstm import cli
from phonelstm.config import EvaluateConfig, to_dataclass
from phonelstm.data.dataset import frame_labels
from phonelstm.data.manifest import Utterance, read_manifest
from phonelstm.device import resolve_device
from phonelstm.errors import PhonelstmError
from phonelstm.io import atomic_write_text
from phonelstm.metrics import Scores, fold_index
from phonelstm.phones import fold
from phonelstm.plots import plot_utterance
from phonelstm.recognizer import Recognizer, Result
from phonelstm.recordings import read_transcripts, report_failures
from phonelstm.reports import write_summary
from phonelstm.writers import check_writable


class EvaluateError(PhonelstmError):
    """Bad evaluation input (missing settings, ids without references, existing report)."""


def _add_frames(scores: Scores, recognizer: Recognizer, utts: dict[str, Utterance],
                results: Sequence[Result], score_phones: int) -> None:
    """Frames of a framewise model, both sides folded (``q`` frames skipped)."""
    folded = fold_index(recognizer.vocab.symbols, score_phones)  # (C,) class -> folded class
    for r in results:
        utt = utts[r.id]
        if utt.segments is None:
            continue
        predicted = torch.from_numpy(r.log_posteriors.argmax(-1))  # (T,)
        labels = frame_labels(utt, len(predicted), recognizer.vocab, recognizer.config.features)
        scores.add_frames(folded[predicted], folded[labels])


def _check_report_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise EvaluateError(f"{out}: report folder exists and is not empty; "
                            "set overwrite=true to replace its files")
    check_writable(out)


def evaluate(cfg: EvaluateConfig, recognizer: Recognizer | None = None) -> dict:
    """Write the report of ``cfg`` and return its summary. ``recognizer``: the model of
    ``cfg.checkpoint`` already loaded, to score several manifests with one load (its beam
    becomes ``cfg.beam``)."""
    out = Path(cfg.out)
    scores = Scores()
    results, utts, failed = [], {}, {}
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
        if recognizer is None:
            recognizer = Recognizer.from_checkpoint(cfg.checkpoint,
                                                    str(resolve_device(cfg.device)))
        recognizer.beam = cfg.beam
        results, failed = recognizer.decode_utterances(
            manifest, batch_seconds=cfg.batch_seconds,
            keep_posteriors=recognizer.task == "framewise")
        utts = {u.id: u for u in manifest}
        decoded = {r.id for r in results}
        refs = {u.id: u.phones for u in manifest if u.id in decoded}
        hyps = {r.id: [p.phone for p in r.phones] for r in results}
        speakers = {u.id: u.speaker for u in manifest}
        if recognizer.task == "framewise":
            _add_frames(scores, recognizer, utts, results, cfg.score_phones)
        title = f"checkpoint={cfg.checkpoint} data={cfg.data}"
    else:
        raise EvaluateError("give checkpoint=<ckpt> data=<manifest.jsonl>, "
                            "or hyp=<file> ref=<file>")
    scored = {utt_id: (fold(ref, cfg.score_phones), fold(hyps.get(utt_id, []), cfg.score_phones))
              for utt_id, ref in refs.items()}
    for utt_id, (ref, hyp) in scored.items():
        scores.add(ref, hyp, speakers[utt_id])
    # what was scored, folded as scored: any external scorer (e.g. sclite) can check it
    for index, name in ((0, "ref.txt"), (1, "hyp.txt")):
        atomic_write_text(out / name, "".join(f"{utt_id} {' '.join(pair[index])}\n"
                                              for utt_id, pair in scored.items()))
    title += f" ({cfg.score_phones} phones)"
    extra = {"score_phones": cfg.score_phones, "missing_hypotheses": len(set(refs) - set(hyps)),
             "skipped_audio": sorted(failed)}
    frame_accuracy = scores.frame_accuracy if scores.frames_total else None
    summary, text = write_summary(out, scores, cfg.top_confusions, title, extra, frame_accuracy)
    wanted = cfg.plot_ids or [r.id for r in results[: cfg.plot_utterances]]
    for r in (r for r in results if r.id in wanted):
        utt = utts[r.id]
        ref_segments = [(p, s, e) for p, (s, e) in zip(utt.phones, utt.segments or [],
                                                       strict=False)]
        wave = recognizer.load(utt)
        plot_utterance(wave.numpy(), recognizer.sample_rate, ref_segments,
                       [(p.phone, p.start, p.end) for p in r.phones],
                       out / "utterances" / f"{r.id}.png", r.id)
    print(text, end="")
    print(f"report written to {out}/ (summary.json, summary.txt, hyp.txt, ref.txt, confusion.png"
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
