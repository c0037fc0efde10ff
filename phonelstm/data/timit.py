"""TIMIT in the LDC layout or the NLTK sample layout -> utterances with 61-phone segments.

Layouts read (any letter case):
- LDC: ``<root>/{TRAIN,TEST}/DR1/FCJF0/SI1027.{WAV,PHN}``, ``.WAV`` holding NIST SPHERE or
  RIFF (a ``SI1027.WAV.wav`` RIFF copy is used when present);
- NLTK sample: ``<root>/dr1-fvmh0/si1466.{wav,sph,phn}`` (``.wav`` preferred, else ``.sph``).

Utterance ids are ``<speaker>_<sentence>`` in lower case (``fcjf0_si1027``); segments are the
``.phn`` sample boundaries divided by the audio's sample rate; the 61 phones are kept as they
are in the file (folding happens at scoring). Frame labels follow the frame-centre rule of
``phonelstm.features``.

Splits (``timit.split``):
- ``standard``: train = every TRAIN speaker (462), dev = the 50-speaker development set and
  test = the 24-speaker core test set of Kaldi/ESPnet's recipes and Graves et al. (2013),
  or with ``timit.full_test`` all TEST speakers (168; the dev speakers are part of it, as in
  the LDC's definition of the complete test set). The lists ship in ``phonelstm/resources``.
  Speakers and utterances found are compared with the expected counts and differences are
  logged as warnings; a split with no speaker at all is an error.
- ``speakers``: ``timit.{train,dev,test}_speakers`` lists (for the sample or a subset);
- ``regions``: ``timit.{train,dev,test}_regions`` dialect-region lists (``dr1`` ... ``dr8``).
Each utterance records its dialect region in the manifest field ``region``, and the words of
its ``.wrd`` file, when there is one, in ``text`` (what ``phonelstm.data.lexicon`` pronounces, e.g.
to measure how close canonical phones come to the hand labels: ``scripts/lexicon_report.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf

from phonelstm.config import TimitConfig
from phonelstm.data.corpus import (
    DataError,
    check_root,
    check_splits,
    missing_speakers,
    read_list,
    split_by_config,
    split_by_speakers,
)
from phonelstm.data.manifest import SPLITS, Utterance
from phonelstm.phones import TIMIT61

log = logging.getLogger("phonelstm.data.timit")

TRAIN_SPEAKERS = "timit_train_spk.txt"  # 462
DEV_SPEAKERS = "timit_dev_spk.txt"  # 50
CORE_TEST_SPEAKERS = "timit_core_test_spk.txt"  # 24
FULL_TEST_SIZE = 168
SENTENCES_PER_SPEAKER = 8  # SX + SI; SA1/SA2 add 2

_NLTK_FOLDER = re.compile(r"^(dr\d+)-([a-z]+\d)$")
_REGION = re.compile(r"^dr\d+$")
_PHONES = frozenset(TIMIT61)


class TimitError(DataError):
    """A TIMIT file is malformed: the message names the file (and line)."""


def read_phn(path: Path, sample_rate: int,
             num_samples: int) -> tuple[list[str], list[tuple[float, float]]]:
    """Phones and [start, end] seconds from a ``.phn`` file, validated against TIMIT-61."""
    phones, segments = [], []
    lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
            raise TimitError(f"{path}:{lineno}: expected '<start> <end> <phone>', got {line!r}")
        start, end, phone = int(fields[0]), int(fields[1]), fields[2]
        if phone not in _PHONES:
            raise TimitError(f"{path}:{lineno}: {phone!r} is not a TIMIT-61 phone")
        if end < start or (segments and start < segments[-1][0] * sample_rate):
            raise TimitError(f"{path}:{lineno}: segment {start}-{end} is not in time order")
        if end > num_samples:
            raise TimitError(f"{path}:{lineno}: segment ends at sample {end}, past the end of "
                             f"its audio ({num_samples} samples)")
        phones.append(phone)
        segments.append((start / sample_rate, end / sample_rate))
    if not phones:
        raise TimitError(f"{path}: no phones")
    return phones, segments


def read_words(path: Path) -> str:
    """The words of a ``.wrd`` file (``<start> <end> <word>`` lines), space-separated."""
    words = []
    for lineno, line in enumerate(path.read_text(encoding="ascii", errors="replace")
                                  .splitlines(), 1):
        fields = line.split()
        if fields and len(fields) != 3:
            raise TimitError(f"{path}:{lineno}: expected '<start> <end> <word>', got {line!r}")
        words += fields[2:]
    return " ".join(words)


def _audio_for(phn: Path, siblings: dict[str, Path]) -> Path | None:
    stem = phn.stem.lower()
    for name in (f"{stem}.wav.wav", f"{stem}.wav", f"{stem}.sph"):
        if name in siblings:
            return siblings[name]
    return None


def _speaker_region_set(folder: Path, root: Path) -> tuple[str, str | None, str | None]:
    """Speaker id, dialect region and ``train``/``test`` (None where the layout does not say)."""
    parts = [p.lower() for p in folder.relative_to(root).parts]
    match = _NLTK_FOLDER.match(parts[-1])
    speaker = match.group(2) if match else parts[-1]
    region = match.group(1) if match else next((p for p in parts if _REGION.match(p)), None)
    subset = "train" if "train" in parts else "test" if "test" in parts else None
    return speaker, region, subset


def scan(root: Path, include_sa: bool = False) -> Iterator[tuple[Utterance, str | None]]:
    """Every utterance under ``root`` with its LDC subset (``train``/``test``/None)."""
    for folder in sorted({p.parent for p in root.rglob("*") if p.suffix.lower() == ".phn"}):
        siblings = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
        speaker, region, subset = _speaker_region_set(folder, root)
        for phn in sorted(p for p in siblings.values() if p.suffix.lower() == ".phn"):
            sentence = phn.stem.lower()
            if sentence.startswith("sa") and not include_sa:
                continue
            audio = _audio_for(phn, siblings)
            if audio is None:
                raise TimitError(f"{phn}: no audio beside it (.wav or .sph)")
            try:
                info = sf.info(str(audio))
            except (sf.LibsndfileError, RuntimeError) as err:
                raise TimitError(f"{audio}: cannot read audio header ({err})") from None
            phones, segments = read_phn(phn, info.samplerate, info.frames)
            extra = {"region": region} if region else {}
            wrd = siblings.get(f"{phn.stem.lower()}.wrd")
            if wrd is not None:
                extra["text"] = read_words(wrd)
            yield Utterance(id=f"{speaker}_{sentence}", audio=str(audio), speaker=speaker,
                            phones=phones, segments=segments,
                            duration=info.frames / info.samplerate, extra=extra), subset


def _standard_split(found: list[tuple[Utterance, str | None]], cfg: TimitConfig,
                    where: str) -> dict[str, list[Utterance]]:
    train_list = read_list(TRAIN_SPEAKERS)
    dev_list = read_list(DEV_SPEAKERS)
    test_list = read_list(CORE_TEST_SPEAKERS)
    train_set = set(train_list)
    # Without TRAIN/TEST folders (NLTK layout), the shipped training list decides.
    subset = {u.speaker: s or ("train" if u.speaker in train_set else "test") for u, s in found}
    speakers = {"train": sorted(spk for spk, s in subset.items() if s == "train"),
                "dev": dev_list, "test": [] if cfg.full_test else test_list}
    splits = split_by_speakers((u for u, _ in found), speakers)
    if cfg.full_test:  # the complete test set holds the dev speakers too
        splits["test"] = [u for u, _ in found if subset[u.speaker] == "test"]
        log.warning("%s: timit.full_test: the 50 dev speakers are part of the complete "
                    "test set; pick models on dev, report test only once", where)
    expected = {"train": len(train_list), "dev": len(dev_list),
                "test": FULL_TEST_SIZE if cfg.full_test else len(test_list)}
    per_speaker = SENTENCES_PER_SPEAKER + (2 if cfg.include_sa else 0)
    missing_speakers(splits, {"train": train_list, "dev": dev_list,
                              **({} if cfg.full_test else {"test": test_list})}, where)
    for split in SPLITS:
        n_spk = len({u.speaker for u in splits[split]})
        if n_spk != expected[split] or len(splits[split]) != expected[split] * per_speaker:
            log.warning("%s: %s has %d speakers / %d utterances; the standard split has %d / %d",
                        where, split, n_spk, len(splits[split]), expected[split],
                        expected[split] * per_speaker)
    return splits


def prepare_timit(cfg: TimitConfig, root: str | None) -> dict[str, list[Utterance]]:
    """Read TIMIT under ``root`` and split it as ``cfg`` says."""
    path = check_root(root, "timit")
    found = list(scan(path, cfg.include_sa))
    if not found:
        raise DataError(f"data.root={root}: no TIMIT utterances (.phn files with audio) found")
    if cfg.split == "standard":
        splits = _standard_split(found, cfg, f"data.root={root}")
        check_splits(splits, f"data.root={root}",
                     allow_shared=("dev", "test") if cfg.full_test else None)
    elif cfg.split == "speakers":
        lists = {"train": cfg.train_speakers, "dev": cfg.dev_speakers,
                 "test": cfg.test_speakers}
        splits = split_by_config((u for u, _ in found), lists, "data.timit", root)
    elif cfg.split == "regions":
        by_region: dict[str, set[str]] = {}
        for utt, _ in found:
            by_region.setdefault(utt.extra.get("region", ""), set()).add(utt.speaker)
        regions = {"train": cfg.train_regions, "dev": cfg.dev_regions, "test": cfg.test_regions}
        lists = {split: sorted(spk for r in wanted for spk in by_region.get(r.lower(), ()))
                 for split, wanted in regions.items()}
        empty = [f"data.timit.{s}_regions={regions[s]}" for s in SPLITS if not lists[s]]
        if empty:
            raise DataError(f"timit.split=regions: no speakers found for {', '.join(empty)} "
                            f"(regions found: {', '.join(sorted(by_region))})")
        splits = split_by_config((u for u, _ in found), lists, "data.timit", root)
    else:
        raise DataError(f"data.timit.split={cfg.split!r}: expected 'standard', 'speakers' "
                        "or 'regions'")
    return splits
