"""Prepared splits -> Lhotse manifests (``phonelstm-prepare ... export=lhotse``).

For each non-empty split, ``<out>/<name>_{recordings,supervisions,cuts}_<split>.jsonl.gz``,
named as Lhotse's recipes name theirs:
- one recording per audio file, under the utterance's id (or, for a file that several
  utterances share, the file's stem);
- one supervision per utterance: its id, speaker, span and channel, its TIMIT-61 phones as
  space-separated text, a ``phone`` alignment where the manifest has times (in recording
  time, as Lhotse counts them), the manifest's other fields in ``custom``;
- one cut per utterance, under its id, spanning its supervision.
``lhotse.validate`` checks them before anything is written; ``data=lhotse`` reads them back
into the same manifests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from phonelstm.data.corpus import DataError
from phonelstm.data.lhotse_in import require_lhotse
from phonelstm.data.manifest import SPLITS, Utterance
from phonelstm.io import atomic_write


def recordings_of(utts: Sequence[Utterance], lhotse: ModuleType) -> dict[str, Any]:
    """Audio path -> ``lhotse.Recording``, one per file."""
    users: dict[str, list[str]] = {}
    for utt in utts:
        users.setdefault(utt.audio, []).append(utt.id)
    taken: set[str] = set()
    recordings = {}
    for audio, ids in users.items():
        rec_id = ids[0] if len(ids) == 1 else Path(audio).stem
        while rec_id in taken:
            rec_id += "_"
        taken.add(rec_id)
        try:
            recordings[audio] = lhotse.Recording.from_file(audio, recording_id=rec_id)
        except Exception as err:  # Lhotse tries several audio backends, each its own errors
            raise DataError(f"{audio}: Lhotse cannot read this audio file ({err})") from None
    return recordings


def supervision_and_cut(utt: Utterance, rec: Any, lhotse: ModuleType) -> tuple[Any, Any]:
    start = utt.offset or 0.0
    duration = rec.duration if utt.offset is None else utt.duration
    channels = rec.channel_ids
    channel = (channels[0] if len(channels) == 1 else channels) if utt.channel is None \
        else utt.channel
    alignment = None
    if utt.segments is not None:
        item = lhotse.supervision.AlignmentItem
        alignment = {"phone": [item(phone, round(start + s, 6), round(e - s, 6))
                               for phone, (s, e) in zip(utt.phones, utt.segments, strict=True)]}
    sup = lhotse.SupervisionSegment(
        id=utt.id, recording_id=rec.id, start=start, duration=duration, channel=channel,
        text=" ".join(utt.phones), speaker=utt.speaker, custom=utt.extra or None,
        alignment=alignment)
    kind = lhotse.MultiCut if isinstance(channel, list) else lhotse.MonoCut
    cut = kind(id=utt.id, start=start, duration=duration, channel=channel, recording=rec,
               supervisions=[lhotse.utils.fastcopy(sup, start=0.0)])
    return sup, cut


def write_set(manifest: Any, path: Path) -> None:
    with atomic_write(path) as tmp:  # the temp name keeps .jsonl.gz: Lhotse picks the format
        manifest.to_file(tmp)


def export_lhotse(splits: dict[str, list[Utterance]], out: Path, name: str) -> Path:
    """Write ``splits`` as Lhotse manifests into ``out``; returns ``out``."""
    lhotse = require_lhotse("export=lhotse")
    written = {}
    for split in SPLITS:
        if not splits[split]:
            continue
        recordings = recordings_of(splits[split], lhotse)
        pairs = [supervision_and_cut(u, recordings[u.audio], lhotse) for u in splits[split]]
        sets = {"recordings": lhotse.RecordingSet.from_recordings(recordings.values()),
                "supervisions": lhotse.SupervisionSet.from_segments(s for s, _ in pairs),
                "cuts": lhotse.CutSet.from_cuts(c for _, c in pairs)}
        try:
            lhotse.validate_recordings_and_supervisions(sets["recordings"], sets["supervisions"])
            lhotse.validate(sets["cuts"])
        except AssertionError as err:
            raise DataError(f"{split}: Lhotse rejects the exported manifests ({err})") from None
        written[split] = sets
    for split, sets in written.items():
        for kind, manifest in sets.items():
            write_set(manifest, out / f"{name}_{kind}_{split}.jsonl.gz")
    return out
