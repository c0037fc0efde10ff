"""What to decode: recordings named by a file, a folder, a glob or a manifest, transcripts
given beside them or in a file, and the report of recordings that could not be decoded."""

from __future__ import annotations

import glob
import sys
from pathlib import Path

from phonelstm.data.manifest import Utterance, read_manifest
from phonelstm.errors import PhonelstmError

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


def attach_transcripts(utts: list[Utterance], path: str | Path) -> None:
    """Set each recording's phones from a transcript file (none where it has no line)."""
    transcripts = read_transcripts(path)
    for utt in utts:
        utt.phones = transcripts.get(utt.id, [])


def require_transcripts(utts: list[Utterance]) -> None:
    """Forced alignment needs the phones of every recording."""
    missing = [u.id for u in utts if not u.phones]
    if missing:
        raise DecodeError(f"align: no transcript for {len(missing)} recording(s), e.g. "
                          f"{missing[0]} (give manifest phones, a .phn file or transcript=)")


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


def report_failures(failed: dict[str, str], total: int, continue_on_error: bool) -> None:
    """List skipped recordings on stderr; fail unless ``continue_on_error``."""
    if total == 1 and failed and not continue_on_error:
        raise DecodeError(next(iter(failed.values())))  # one recording: its error is the line
    for audio, reason in failed.items():
        print(f"skipped {audio}: {reason}", file=sys.stderr)
    if failed and not continue_on_error:
        raise DecodeError(f"{len(failed)} of {total} recording(s) could not be decoded "
                          "(listed above); set continue_on_error=true to accept that")
