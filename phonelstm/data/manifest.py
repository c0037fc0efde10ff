"""Manifests: one JSON object per line describing an utterance.

Fields: ``id``, ``audio`` (path, relative to the manifest's folder or absolute), ``speaker``,
``phones`` (list of phone symbols), optional ``segments`` ([start, end] seconds per phone,
same length as ``phones``) and ``duration`` (seconds). An utterance that is a span of a longer
recording (a Lhotse cut) also has ``offset`` (seconds into the file where it starts; its
``duration`` is then the span's and its segments count from the offset), and one of a
multi-channel file ``channel`` (a channel index or a list of them, mixed down); without them
the whole file, all channels mixed down, is the utterance. Every corpus preparer writes this
format to ``<out>/{train,dev,test}.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from torch import Tensor

from phonelstm.audio import load_audio
from phonelstm.errors import PhonelstmError
from phonelstm.io import atomic_write_text

SPLITS = ("train", "dev", "test")


class ManifestError(PhonelstmError):
    """A manifest file is missing, empty or has a malformed line."""


@dataclass
class Utterance:
    id: str
    audio: str
    speaker: str
    phones: list[str]
    segments: list[tuple[float, float]] | None = None
    duration: float | None = None
    offset: float | None = None
    channel: int | list[int] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def span(self) -> tuple[float, float] | None:
        """``(offset, duration)`` seconds of the audio file when the utterance is a span of it."""
        return None if self.offset is None else (self.offset, self.duration)

    def load(self, sample_rate: int, min_samples: int = 0) -> Tensor:
        """Its audio, mono ``(N,)`` at ``sample_rate``: its span and channels of the file."""
        return load_audio(self.audio, sample_rate, min_samples, self.span, self.channel)

    def to_json(self, base: Path | None = None) -> str:
        row = asdict(self)
        extra = row.pop("extra")
        if base is not None:
            audio = Path(self.audio)
            if audio.is_absolute() and audio.is_relative_to(base):
                row["audio"] = str(audio.relative_to(base))
        if self.segments is None:
            row.pop("segments")
        else:
            row["segments"] = [[round(s, 5), round(e, 5)] for s, e in self.segments]
        for optional in ("duration", "offset", "channel"):
            if row[optional] is None:
                row.pop(optional)
        row.update(extra)
        return json.dumps(row, ensure_ascii=False)


_REQUIRED = ("id", "audio", "speaker", "phones")


def _parse(line: str, path: Path, lineno: int) -> Utterance:
    where = f"{path}:{lineno}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise ManifestError(f"{where}: not valid JSON ({err.msg})") from None
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    missing = [k for k in _REQUIRED if k not in row]
    if missing:
        raise ManifestError(f"{where}: missing field(s) {', '.join(missing)}")
    phones = row.pop("phones")
    if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
        raise ManifestError(f"{where}: 'phones' must be a list of strings")
    segments = row.pop("segments", None)
    if segments is not None:
        if len(segments) != len(phones):
            raise ManifestError(
                f"{where}: {len(segments)} segments for {len(phones)} phones"
            )
        segments = [(float(s), float(e)) for s, e in segments]
        if any(e < s for s, e in segments) or any(
            b[0] < a[0] for a, b in zip(segments, segments[1:], strict=False)
        ):
            raise ManifestError(f"{where}: segments are not monotonic")
    offset, channel = row.pop("offset", None), row.pop("channel", None)
    if offset is not None and (not isinstance(offset, int | float) or offset < 0
                               or not isinstance(row.get("duration"), int | float)):
        raise ManifestError(f"{where}: 'offset' must be seconds >= 0, with a 'duration'")
    channels = channel if isinstance(channel, list) else [channel]
    if channel is not None and not all(isinstance(c, int) and c >= 0 for c in channels):
        raise ManifestError(f"{where}: 'channel' must be a channel index or a list of them")
    audio = Path(row.pop("audio"))
    if not audio.is_absolute():
        audio = path.parent / audio
    return Utterance(
        id=str(row.pop("id")),
        audio=str(audio),
        speaker=str(row.pop("speaker")),
        phones=phones,
        segments=segments,
        duration=row.pop("duration", None),
        offset=offset,
        channel=channel,
        extra=row,
    )


def read_manifest(path: str | Path, allow_empty: bool = False) -> list[Utterance]:
    """Read and validate a JSONL manifest; audio paths come back absolute. ``allow_empty``:
    a prepared split may be empty (a corpus for evaluation only has just a test split)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    utterances = list(iter_manifest(path))
    if not utterances and not allow_empty:
        raise ManifestError(f"{path}: manifest is empty")
    return utterances


def iter_manifest(path: Path) -> Iterator[Utterance]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield _parse(line, path, lineno)


def write_manifest(path: str | Path, utterances: Iterable[Utterance]) -> None:
    """Write a manifest atomically; audio paths inside its folder are stored relative."""
    path = Path(path)
    base = path.parent.resolve()
    text = "".join(u.to_json(base) + "\n" for u in utterances)
    atomic_write_text(path, text)
