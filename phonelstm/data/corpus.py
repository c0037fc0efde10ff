"""What every corpus preparer shares: root checks, speaker splits, validation, writing.

A preparer turns a raw corpus into a list of ``Utterance`` per split; ``check_splits``
validates them (non-empty, unique ids, speaker-disjoint) and ``write_splits`` writes
``<out>/{train,dev,test}.jsonl``, each atomically, only after all of them validated.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from phonelstm.data.manifest import SPLITS, Utterance, write_manifest
from phonelstm.errors import PhonelstmError

log = logging.getLogger("phonelstm.data")


class DataError(PhonelstmError):
    """A corpus folder is missing, empty or not in a layout phonelstm reads."""


def resource_path(name: str) -> Path:
    """A data file shipped in ``phonelstm/resources``."""
    return Path(str(resources.files("phonelstm") / "resources" / name))


def read_list(name: str) -> list[str]:
    """A shipped list: one entry per line, ``;`` comments and blank lines skipped."""
    lines = resource_path(name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(";")]


def check_root(root: str | None, corpus: str) -> Path:
    """``data.root`` as an existing path; relative paths are taken from the current directory."""
    if not root:
        raise DataError(f"data.root is not set: corpus={corpus} needs root=<corpus folder>")
    path = Path(root).expanduser().resolve()
    if not path.exists():
        raise DataError(f"data.root={root}: not found (resolved to {path})")
    return path


def split_by_speakers(utts: Iterable[Utterance],
                      speakers: dict[str, Sequence[str]]) -> dict[str, list[Utterance]]:
    """Assign utterances to splits by speaker lists; speakers in no list are left out."""
    where: dict[str, str] = {}
    for split, spks in speakers.items():
        for spk in spks:
            if where.setdefault(spk.lower(), split) != split:
                raise DataError(f"speaker {spk!r} is listed for both {where[spk.lower()]} and "
                                f"{split}; train/dev/test must be speaker-disjoint")
    splits: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
    for utt in utts:
        split = where.get(utt.speaker.lower())
        if split is not None:
            splits[split].append(utt)
    return splits


def abbreviate(names: Sequence[str], limit: int = 10) -> str:
    """``a, b, c, ... (N more)``: a long list kept to one readable line."""
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def missing_speakers(splits: dict[str, list[Utterance]],
                     speakers: dict[str, Sequence[str]], key: str) -> None:
    """Warn about listed speakers with no utterances; an empty split is an error."""
    for split, wanted in speakers.items():
        found = {u.speaker.lower() for u in splits[split]}
        missing = sorted(s for s in (w.lower() for w in wanted) if s not in found)
        if missing and len(missing) < len(wanted):
            log.warning("%s: %d of %d %s speakers not found: %s", key, len(missing), len(wanted),
                        split, abbreviate(missing))
        elif missing:
            raise DataError(f"{key}: none of the {len(wanted)} {split} speakers "
                            f"({abbreviate(missing, 5)}) "
                            "has utterances in data.root")


def check_splits(splits: dict[str, list[Utterance]], where: str,
                 allow_shared: tuple[str, str] | None = None) -> None:
    """Ids unique, speakers disjoint (except the ``allow_shared`` pair), some split non-empty.

    An empty split is allowed with a warning: a corpus for evaluation only has just a test
    split (training refuses to start on empty train or dev manifests)."""
    empty = [split for split in SPLITS if not splits.get(split)]
    if len(empty) == len(SPLITS):
        raise DataError(f"{where}: no split has utterances (check data.root and the split "
                        "settings)")
    if empty:
        log.warning("%s: the %s split%s no utterances: the manifests serve evaluation, not "
                    "training", where, " and ".join(empty), " has" if len(empty) == 1 else "s have")
    shared = set(allow_shared or ())
    seen: dict[str, str] = {}
    for split in SPLITS:
        ids: set[str] = set()
        for utt in splits[split]:
            first = seen.setdefault(utt.id, split)
            if utt.id in ids or (first != split and {first, split} != shared):
                raise DataError(f"{where}: duplicate utterance id {utt.id!r} "
                                f"({first} and {split})")
            ids.add(utt.id)
    owners: dict[str, set[str]] = {}
    for split in SPLITS:
        for utt in splits[split]:
            owners.setdefault(utt.speaker, set()).add(split)
    for speaker, found in sorted(owners.items()):
        if len(found) > 1 and found != shared:
            raise DataError(f"{where}: speaker {speaker!r} is in more than one split "
                            f"({', '.join(s for s in SPLITS if s in found)}); "
                            "train/dev/test must be speaker-disjoint")


def how_many(setting: float, total: int, key: str) -> int:
    """A fraction (< 1; at least one speaker) or a number of speakers, as a number."""
    count = max(round(setting * total), 1) if 0 < setting < 1 else int(setting)
    if setting == 0:
        return 0
    if setting < 0 or (setting >= 1 and count != setting) or count < 1:
        raise DataError(f"{key}={setting}: expected a fraction between 0 and 1 or a whole "
                        "number of speakers")
    return count


def stratified_order(groups: dict[tuple[str, ...], list[str]], seed: int) -> list[str]:
    """Every speaker, shuffled within its group, groups interleaved so that any first ``n``
    holds each group in proportion to its size (and one of each as soon as ``n`` allows)."""
    rng = random.Random(seed)
    pools = {key: rng.sample(sorted(members), len(members))
             for key, members in sorted(groups.items())}
    taken = dict.fromkeys(pools, 0)
    order: list[str] = []
    for _ in range(sum(len(p) for p in pools.values())):
        key = min((k for k in pools if taken[k] < len(pools[k])),
                  key=lambda k: (taken[k] / len(pools[k]), k))
        order.append(pools[key][taken[key]])
        taken[key] += 1
    return order


def draw_held_out(group_of: dict[str, tuple[str, ...]], seed: int, dev: float, test: float,
                  key: str) -> tuple[list[str], list[str]]:
    """Dev and test speakers drawn from ``group_of`` (speaker -> group, e.g. gender) in
    proportion to the groups (``stratified_order``); ``dev``/``test``: a fraction (< 1) or a
    number of speakers (0: none), as ``<key>.dev_speakers``/``test_speakers`` say."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for speaker, group in group_of.items():
        groups.setdefault(group, []).append(speaker)
    order = stratified_order(groups, seed)
    n_dev = how_many(dev, len(order), f"{key}.dev_speakers")
    n_test = how_many(test, len(order), f"{key}.test_speakers")
    if n_dev + n_test >= len(order):
        raise DataError(f"{key}: {n_dev} dev + {n_test} test speakers leave none of the "
                        f"{len(order)} training speakers for training")
    return order[:n_dev], order[n_dev:n_dev + n_test]


def split_by_config(utts: Iterable[Utterance], speakers: dict[str, Sequence[str]], key: str,
                    root: str | None) -> dict[str, list[Utterance]]:
    """Split by the ``<key>.{train,dev,test}_speakers`` lists (an empty list: an empty split)
    and validate the result."""
    if not any(speakers.values()):
        raise DataError(f"a speaker split needs speakers: {key}.train_speakers, "
                        "dev_speakers and test_speakers are all empty")
    splits = split_by_speakers(utts, speakers)
    missing_speakers(splits, speakers, key)
    check_splits(splits, f"data.root={root}")
    return splits


def manifests_exist(out: Path) -> bool:
    return all((out / f"{split}.jsonl").is_file() for split in SPLITS)


def write_splits(out: Path, splits: dict[str, list[Utterance]]) -> None:
    """Write the three manifests (each atomically), sorted by id for stable diffs."""
    for split in SPLITS:
        write_manifest(out / f"{split}.jsonl", sorted(splits[split], key=lambda u: u.id))
