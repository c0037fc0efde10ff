"""``phonelstm-decode checkpoint=<ckpt> input=<file|dir|manifest.jsonl|glob> out=<dir>``.

Recognises (or, with ``align=true`` / ``transcript=``, force-aligns) every recording, in
batches of similar length, and writes the formats of ``phonelstm.writers``. Without ``out``
the phones and times are printed. Unreadable audio files are skipped and listed; the
command then fails unless ``continue_on_error=true``.
"""

from __future__ import annotations

import glob
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import hydra
import soundfile as sf
from omegaconf import DictConfig
from tqdm import tqdm

from phonelstm import cli
from phonelstm.config import DecodeConfig, to_dataclass
from phonelstm.data.manifest import Utterance, read_manifest
from phonelstm.device import resolve_device
from phonelstm.errors import PhonelstmError
from phonelstm.features import frame_params
from phonelstm.recognizer import Recognizer
from phonelstm.writers import WRITERS, Result, check_outputs, write_posteriors

log = logging.getLogger(__name__)

# order of preference when one recording exists in several formats (TIMIT: .wav and .sph)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".sph")


class DecodeError(PhonelstmError):
    """Bad decoding input, or audio files that could not be decoded."""


def _read_phn(audio: Path) -> list[str]:
    """TIMIT-style ``.phn`` transcript beside the audio (``start end phone`` lines), if any."""
    phn = audio.with_suffix(".phn")
    if not phn.is_file():
        return []
    return [line.split()[2] for line in phn.read_text().splitlines() if line.strip()]


def read_transcripts(path: str | Path) -> dict[str, list[str]]:
    """A text file of ``<id> <phone> <phone> ...`` lines (``phones.txt``, Kaldi ``text``)."""
    path = Path(path)
    if not path.is_file():
        raise DecodeError(f"{path}: transcript file not found")
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    return {row[0]: row[1:] for row in rows if row}


def gather_inputs(spec: str) -> list[Utterance]:
    """Recordings named by a file, a folder (recursive), a ``.jsonl`` manifest or a glob.

    Ids are paths relative to the folder (or the glob's fixed part) without the suffix,
    with ``/`` replaced by ``_``; phones come from the manifest or a ``.phn`` beside the audio.
    """
    path = Path(spec)
    if path.suffix == ".jsonl" and path.is_file():
        return read_manifest(path)
    if path.is_file():
        files, base = [path], path.parent
    elif path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES]
        base = path
    elif glob.has_magic(spec):
        files = [Path(p) for p in sorted(glob.glob(spec, recursive=True)) if Path(p).is_file()]
        fixed = Path(spec.split("*")[0].split("?")[0].split("[")[0])
        base = fixed if fixed.is_dir() else fixed.parent
    else:
        raise DecodeError(f"input={spec}: no such file, folder or glob match")
    by_id: dict[str, Path] = {}
    for f in sorted(files, key=lambda p: AUDIO_SUFFIXES.index(p.suffix.lower())
                    if p.suffix.lower() in AUDIO_SUFFIXES else len(AUDIO_SUFFIXES)):
        utt_id = str(f.relative_to(base).with_suffix("")).replace("/", "_")
        by_id.setdefault(utt_id, f)
    if not by_id:
        raise DecodeError(f"input={spec}: no audio files found")
    return [Utterance(id=i, audio=str(f), speaker=f.parent.name, phones=_read_phn(f))
            for i, f in sorted(by_id.items())]


def _duration(utt: Utterance) -> float:
    if utt.duration is not None:
        return utt.duration
    try:
        info = sf.info(utt.audio)
    except (sf.LibsndfileError, RuntimeError):
        return 0.0  # unreadable: found (and reported) when the audio is loaded
    return info.frames / info.samplerate


def decode_utterances(recognizer: Recognizer, utts: Sequence[Utterance], align: bool = False,
                      batch_seconds: float = 600.0, keep_posteriors: bool = False,
                      progress: bool = True) -> tuple[list[Result], dict[str, str]]:
    """Decode recordings shortest first in padded batches of at most ``batch_seconds``.

    Recordings longer than the recogniser's ``chunk_seconds`` run alone, in windows. Returns
    the results in input order and ``{audio path: error}`` for recordings that failed.
    """
    durations = [_duration(u) for u in utts]
    order = sorted(range(len(utts)), key=durations.__getitem__)
    win, _ = frame_params(recognizer.config.features)
    results: dict[int, Result] = {}
    failed: dict[str, str] = {}
    batch: list[tuple[int, object]] = []
    bar = tqdm(total=len(utts), unit="file", desc="decode", disable=None if progress else True)

    def finish(items: list[tuple[int, object]], log_probs: list) -> None:
        for (i, wave), lp in zip(items, log_probs, strict=True):
            bar.update()
            utt, duration = utts[i], len(wave) / recognizer.sample_rate
            try:
                phones = (recognizer.align_from(lp, utt.phones, duration) if align
                          else recognizer.phones_from(lp, duration))
            except PhonelstmError as err:
                failed[utt.audio] = str(err)
                continue
            results[i] = Result(utt.id, utt.audio, duration, phones,
                                lp.numpy() if keep_posteriors else None)

    def flush() -> None:
        if batch:
            finish(batch, recognizer.log_posteriors_batch([w for _, w in batch]))
            batch.clear()

    for i in order:
        try:
            wave = recognizer.load(utts[i].audio)
        except PhonelstmError as err:
            failed[utts[i].audio] = str(err)
            bar.update()
            continue
        if len(wave) < win:
            failed[utts[i].audio] = f"{utts[i].audio}: audio shorter than one analysis window"
            bar.update()
        elif len(wave) > recognizer.chunk_seconds * recognizer.sample_rate:
            finish([(i, wave)], [recognizer.log_posteriors(wave)])
        else:
            if batch and len(wave) * (len(batch) + 1) > batch_seconds * recognizer.sample_rate:
                flush()
            batch.append((i, wave))
    flush()
    bar.close()
    return [results[i] for i in sorted(results)], failed


def formats_of(cfg: DecodeConfig) -> list[str]:
    return [cfg.format] if isinstance(cfg.format, str) else list(cfg.format)


def decode(cfg: DecodeConfig) -> None:
    formats = formats_of(cfg)
    utts = gather_inputs(cfg.input)
    align = cfg.align or cfg.transcript is not None
    if cfg.transcript is not None:
        transcripts = read_transcripts(cfg.transcript)
        for utt in utts:
            utt.phones = transcripts.get(utt.id, [])
    if align:
        missing = [u.id for u in utts if not u.phones]
        if missing:
            raise DecodeError(f"align: no transcript for {len(missing)} recording(s), e.g. "
                              f"{missing[0]} (give manifest phones, a .phn file or transcript=)")
    out = Path(cfg.out) if cfg.out else None
    if out is not None:
        check_outputs(out, formats, [u.id for u in utts], cfg.overwrite)
    recognizer = Recognizer.from_checkpoint(cfg.checkpoint, str(resolve_device(cfg.device)),
                                            cfg.beam, cfg.chunk_seconds, cfg.context_seconds)
    began = time.perf_counter()
    results, failed = decode_utterances(recognizer, utts, align, cfg.batch_seconds,
                                        keep_posteriors="posteriors" in formats)
    elapsed = time.perf_counter() - began
    if out is None:
        for r in results:
            print(r.id, " ".join(p.phone for p in r.phones))
            for p in r.phones:
                print(f"{p.start:.3f}\t{p.end:.3f}\t{p.phone}\t{p.posterior:.3f}")
    else:
        for fmt in formats:
            if fmt == "posteriors":
                write_posteriors(out, results, recognizer.vocab.symbols,
                                 recognizer.frame_seconds, recognizer.frame_centre(0))
            else:
                WRITERS[fmt](out, results)
        audio = sum(r.duration for r in results)
        print(f"decoded {len(results)} recording(s), {audio:.1f} s of audio in {elapsed:.1f} s "
              f"({'forced alignment' if align else recognizer.task}); wrote "
              f"{', '.join(formats)} to {out}")
    report_failures(failed, len(utts), cfg.continue_on_error)


def report_failures(failed: dict[str, str], total: int, continue_on_error: bool) -> None:
    """List skipped recordings on stderr; fail unless ``continue_on_error``."""
    if total == 1 and failed and not continue_on_error:
        raise DecodeError(next(iter(failed.values())))  # one recording: its error is the line
    for audio, reason in failed.items():
        print(f"skipped {audio}: {reason}", file=sys.stderr)
    if failed and not continue_on_error:
        raise DecodeError(f"{len(failed)} of {total} recording(s) could not be decoded "
                          "(listed above); set continue_on_error=true to accept that")


@hydra.main(version_base="1.3", config_path=cli.CONF_DIR, config_name="decode")
def _hydra_main(cfg: DictConfig) -> None:
    cli.report_errors("phonelstm-decode", lambda: decode(to_dataclass(DecodeConfig, cfg)))


def main() -> None:
    cli.run("phonelstm-decode", "decode", _hydra_main)


if __name__ == "__main__":
    main()
