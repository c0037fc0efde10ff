"""Lhotse manifests as a corpus (``corpus=lhotse``): one utterance per cut, or per supervision.

Each split (``data.lhotse.{train,dev,test}``) is one or more Lhotse ``CutSet`` files, or a
``RecordingSet`` and a ``SupervisionSet`` file (``.jsonl``/``.jsonl.gz``; paths relative to
``data.root``, else to the current directory). A cut with exactly one supervision is one
utterance under the cut's id (``CutSet.trim_to_supervisions()`` makes such cuts of any
others); without cuts, each supervision is one utterance under its own id. The utterance is
the span its supervision covers, on the cut's (else the supervision's) channels, written as
the manifest's ``offset`` and ``channel`` (``phonelstm.data.manifest``); a supervision that
covers a whole one-file recording on all its channels is the whole file, as the other
readers write it.

Phones: from the supervision's ``phone`` alignment when it has one, with its times (Lhotse
counts alignment times from the start of the recording, not of the cut); items with an empty
symbol are dropped (Lhotse's TIMIT recipe writes ``q`` so in its 48- and 39-phone sets).
Otherwise the supervision's text, as space-separated phone symbols, without times. Symbols
are mapped to TIMIT-61 as by the aligned readers (``data.lhotse.phone_map``,
``phone_map_dict``, ``silence_labels``; ``phonelstm.data.aligned.PhoneMap``). Speaker: the
supervision's, else the recording id. Plain ``custom`` fields become manifest fields.

Audio: the recording's ``file`` source holding the wanted channels, read by
``phonelstm.audio`` (a relative path is taken from the current directory, as Lhotse does).
Other source types (URLs, commands, in-memory or Shar audio) and audio transforms other than
resampling (speed or volume perturbation) are errors naming the cut. Lhotse is an optional
extra: ``pip install 'phonelstm[lhotse]'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from phonelstm.config import LhotseConfig
from phonelstm.data.aligned import PhoneMap, Segments
from phonelstm.data.corpus import DataError, check_root, check_splits
from phonelstm.data.manifest import SPLITS, Utterance

TOLERANCE = 0.01  # seconds a supervision or a phone may run past its bounds (rounding)
_PLAIN = (str, int, float, bool)


def require_lhotse(what: str) -> ModuleType:
    """The ``lhotse`` package, imported only when a Lhotse feature is used."""
    try:
        import lhotse
    except ImportError:
        raise DataError(f"{what} needs the lhotse package: pip install 'phonelstm[lhotse]'"
                        ) from None
    return lhotse


@dataclass
class Item:
    """One future utterance: a supervision of a recording, as its cut places it."""

    id: str
    where: str  # the manifest file and the cut or supervision, for errors
    recording: Any  # lhotse.Recording
    supervision: Any  # lhotse.SupervisionSegment
    start: float  # the cut's start in the recording (0 without cuts)
    channel: int | list[int]  # recording channel(s)


def load_sets(names: list[str], base: Path, key: str) -> list[tuple[Path, Any]]:
    """The manifests of one split as ``(path, Lhotse set)`` pairs."""
    lhotse = require_lhotse("data=lhotse")
    sets = []
    for name in names:
        path = base / name
        if not path.is_file():
            raise DataError(f"{key}: {path} not found")
        try:
            sets.append((path, lhotse.load_manifest(path)))
        except (ValueError, OSError) as err:
            raise DataError(f"{path}: not a Lhotse manifest, or empty ({err})") from None
    return sets


def items(sets: list[tuple[Path, Any]], key: str) -> Iterator[Item]:
    """Cuts (each with one supervision), or the supervisions of a recording/supervision pair."""
    lhotse = require_lhotse("data=lhotse")
    kinds = [type(s).__name__ for _, s in sets]
    if sets and all(kind == "CutSet" for kind in kinds):
        for path, cuts in sets:
            for cut in cuts:
                yield cut_item(cut, f"{path}: cut {cut.id}", lhotse)
        return
    if sorted(kinds) != ["RecordingSet", "SupervisionSet"]:
        raise DataError(f"{key}: expected CutSet files, or a RecordingSet and a SupervisionSet "
                        f"file (got {', '.join(kinds) or 'none'})")
    by_kind = {type(s).__name__: (path, s) for path, s in sets}
    rec_path, recordings = by_kind["RecordingSet"]
    sup_path, supervisions = by_kind["SupervisionSet"]
    by_id = {r.id: r for r in recordings}
    for sup in supervisions:
        where = f"{sup_path}: supervision {sup.id}"
        if sup.recording_id not in by_id:
            raise DataError(f"{where}: recording {sup.recording_id!r} is not in {rec_path}")
        yield Item(sup.id, where, by_id[sup.recording_id], sup, 0.0, sup.channel)


def cut_item(cut: Any, where: str, lhotse: ModuleType) -> Item:
    if not isinstance(cut, lhotse.MonoCut | lhotse.MultiCut):
        raise DataError(f"{where}: a {type(cut).__name__}; phonelstm reads cuts of one "
                        "recording (MonoCut, MultiCut)")
    if not cut.has_recording:
        raise DataError(f"{where}: no recording (phonelstm reads audio, not stored features)")
    if len(cut.supervisions) != 1:
        raise DataError(f"{where}: {len(cut.supervisions)} supervisions; an utterance is one "
                        "supervision (CutSet.trim_to_supervisions() makes one cut of each)")
    return Item(cut.id, where, cut.recording, cut.supervisions[0], cut.start, cut.channel)


def audio_source(item: Item) -> tuple[str, int | list[int] | None]:
    """The audio file holding the item's channels, and which of the file's channels they are
    (``None``: all of them)."""
    rec, where = item.recording, item.where
    for transform in rec.transforms or []:
        name = transform["name"] if isinstance(transform, dict) else type(transform).__name__
        if name != "Resample":
            raise DataError(f"{where}: recording {rec.id} has a {name} transform; phonelstm "
                            "reads the audio files as they are (resampling aside)")
    wanted = item.channel if isinstance(item.channel, list) else [item.channel]
    source = next((s for s in rec.sources if set(wanted) <= set(s.channels)), None)
    if source is None:
        raise DataError(f"{where}: recording {rec.id} has no audio source holding channel(s) "
                        f"{wanted} in one file")
    if source.type != "file":
        raise DataError(f"{where}: recording {rec.id} has a {source.type!r} audio source; "
                        "phonelstm reads 'file' sources only")
    path = Path(source.source).expanduser().absolute()
    if not path.is_file():
        raise DataError(f"{where}: audio file {path} not found")
    index = [source.channels.index(c) for c in wanted]
    if sorted(index) == list(range(len(source.channels))):
        return str(path), None
    return str(path), index[0] if len(index) == 1 else index


def phone_symbols(item: Item, start: float, duration: float) -> tuple[list[str], Segments | None]:
    """Symbols (and times from ``start``) of the phone alignment, else of the text."""
    sup = item.supervision
    alignment = (sup.alignment or {}).get("phone")
    if alignment:
        kept = [a for a in alignment if a.symbol.strip()]
        segments = []
        for a in kept:
            begin, end = a.start - start, a.start + a.duration - start
            if begin < -TOLERANCE or end > duration + TOLERANCE:
                raise DataError(f"{item.where}: phone {a.symbol!r} at {a.start:.3f}-"
                                f"{a.start + a.duration:.3f} s lies outside its supervision "
                                f"({start:.3f}-{start + duration:.3f} s of the recording)")
            segments.append((max(begin, 0.0), min(end, duration)))
        return [a.symbol.strip() for a in kept], segments
    symbols = (sup.text or "").split()
    if not symbols:
        raise DataError(f"{item.where}: no phones (no 'phone' alignment and no text)")
    return symbols, None


def to_utterance(item: Item, phone_map: PhoneMap) -> Utterance:
    rec, sup = item.recording, item.supervision
    start = item.start + sup.start
    if start < -TOLERANCE or start + sup.duration > rec.duration + TOLERANCE:
        raise DataError(f"{item.where}: the supervision runs from {start:.3f} to "
                        f"{start + sup.duration:.3f} s, past the end of recording {rec.id} "
                        f"(0-{rec.duration:.3f} s)")
    start = max(start, 0.0)
    duration = min(sup.duration, rec.duration - start)
    audio, channel = audio_source(item)
    symbols, segments = phone_symbols(item, start, duration)
    phones, segments = phone_map.convert(symbols, segments, item.where)
    whole = (channel is None and len(rec.sources) == 1 and start * rec.sampling_rate < 0.5
             and abs(duration - rec.duration) * rec.sampling_rate < 0.5)
    extra = {k: v for k, v in (sup.custom or {}).items() if isinstance(v, _PLAIN)}
    return Utterance(id=item.id, audio=audio, speaker=sup.speaker or rec.id, phones=phones,
                     segments=segments, duration=rec.duration if whole else duration,
                     offset=None if whole else start, channel=channel, extra=extra)


def read_split(names: list[str], base: Path, key: str, phone_map: PhoneMap) -> list[Utterance]:
    if not names:
        return []
    utts: dict[str, Utterance] = {}
    places: dict[str, str] = {}
    for item in items(load_sets(names, base, key), key):
        if item.id in utts:
            raise DataError(f"{item.where}: duplicate id {item.id!r} (first in "
                            f"{places[item.id]})")
        utts[item.id] = to_utterance(item, phone_map)
        places[item.id] = item.where.split(": ")[0]
    return list(utts.values())


def prepare_lhotse(cfg: LhotseConfig, root: str | None) -> dict[str, list[Utterance]]:
    """Read the Lhotse manifests of each split into validated train/dev/test utterances."""
    lists = {"train": cfg.train, "dev": cfg.dev, "test": cfg.test}
    if not any(lists.values()):
        raise DataError("data.lhotse.train, dev and test are all empty: name each split's "
                        "Lhotse manifests (a CutSet, or a RecordingSet and a SupervisionSet)")
    base = check_root(root, "lhotse") if root else Path.cwd()
    phone_map = PhoneMap(cfg, "data.lhotse")
    splits = {split: read_split(lists[split], base, f"data.lhotse.{split}", phone_map)
              for split in SPLITS}
    check_splits(splits, f"data.lhotse (data.root={root})")
    return splits
