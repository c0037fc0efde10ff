"""Any aligned corpus: a TSV/JSONL of audio + phones (+ times), or audio + Praat TextGrids.

``corpus=manifest`` reads ``data.root``: one ``.tsv``/``.jsonl`` file, or a folder holding
``{train,dev,test}.{tsv,jsonl}``. A TSV starts with a header naming its columns: ``audio``
and ``phones`` (space-separated) are required, or instead of phones ``text``: the words,
which ``phonelstm.data.lexicon`` (``data.lexicon``) pronounces in TIMIT-61 (no phone times then);
``times`` (N+1 space-separated boundaries in seconds for N phones: each phone runs from its
boundary to the next), ``speaker`` (default: the audio's folder name), ``id`` (default
``<speaker>_<audio stem>``) and ``split`` are optional. A JSONL has the manifest fields of
``phonelstm.data.manifest`` (plus ``split``). Relative audio paths are taken from the file's
folder.

``corpus=textgrid`` reads a folder of ``<name>.TextGrid`` files with audio beside them
(``<name>.wav``/``.flac``), as the Montreal Forced Aligner writes (``<speaker>/<utt>``):
the phones are the intervals of tier ``aligned.tier``, read with praatio. Silence: gaps
between intervals and intervals labelled with one of ``aligned.silence_labels`` (MFA's
empty label, ``sil``, ``sp``) become TIMIT's ``h#`` at the start and end of the utterance and
``pau`` elsewhere, adjacent silences merged. Splits come from ``train/``, ``dev/``, ``test/``
subfolders (``aligned.split=given``) or the ``aligned.*_speakers`` lists.

Symbols are mapped to TIMIT-61 with ``aligned.phone_map`` (``arpabet``: the shipped ARPAbet
map, where a symbol not listed is looked up again without its stress digit; or a file of
``symbol timit_phone`` lines) and ``aligned.phone_map_dict``; a symbol that maps to nothing
is an error naming the file and the symbol.
"""

from __future__ import annotations

import csv
from pathlib import Path

import soundfile as sf
from praatio import textgrid

from phonelstm.config import AlignedConfig, LexiconConfig, LhotseConfig
from phonelstm.data.corpus import (
    DataError,
    check_root,
    check_splits,
    split_by_config,
)
from phonelstm.data.lexicon import Lexicon, arpabet_table, words_of
from phonelstm.data.manifest import SPLITS, ManifestError, Utterance, read_manifest
from phonelstm.phones import TIMIT61

_AUDIO_SUFFIXES = (".wav", ".flac")
_END_TOLERANCE = 0.01  # seconds a label may run past the audio (alignment rounding)

Segments = list[tuple[float, float]]


class PhoneMap:
    """Corpus symbol -> TIMIT-61 phone, with silence labels turned into ``h#``/``pau``.

    ``key``: the config group the settings come from, named in errors."""

    def __init__(self, cfg: AlignedConfig | LhotseConfig, key: str = "data.aligned") -> None:
        self.table: dict[str, str] = {}
        self.key = key
        if cfg.phone_map == "arpabet":
            self.table.update(arpabet_table())
        elif cfg.phone_map:
            path = Path(cfg.phone_map)
            if not path.is_file():
                raise DataError(f"{key}.phone_map={cfg.phone_map}: file not found")
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip() and not line.startswith(";"):
                    fields = line.split()
                    if len(fields) != 2 or fields[1] not in TIMIT61:
                        raise DataError(f"{path}:{lineno}: expected '<symbol> <TIMIT-61 phone>'")
                    self.table[fields[0]] = fields[1]
        for symbol, phone in cfg.phone_map_dict.items():
            if phone not in TIMIT61:
                raise DataError(f"{key}.phone_map_dict: {symbol!r} -> {phone!r} is not "
                                "a TIMIT-61 phone")
            self.table[symbol] = phone
        self.silence = {label.strip() for label in cfg.silence_labels}
        self.name = cfg.phone_map or "no phone_map: TIMIT-61 symbols expected"

    def phone(self, symbol: str, where: str) -> str:
        for key in (symbol, symbol.rstrip("012")):
            if key in self.table:
                return self.table[key]
        if symbol in TIMIT61:
            return symbol
        raise DataError(f"{where}: symbol {symbol!r} is not in the phone map ({self.name}); "
                        f"add it to {self.key}.phone_map_dict")

    def convert(self, symbols: list[str], segments: Segments | None,
                where: str) -> tuple[list[str], Segments | None]:
        """Map symbols; silences become h# (utterance edges) or pau, adjacent ones merged."""
        phones: list[str] = []
        times: Segments = []
        for i, symbol in enumerate(symbols):
            silent = symbol.strip() in self.silence
            phone = ("h#" if i in (0, len(symbols) - 1) else "pau") if silent \
                else self.phone(symbol.strip(), where)
            if silent and phones and phones[-1] in ("h#", "pau"):
                if segments is not None:
                    times[-1] = (times[-1][0], segments[i][1])
                if phone == "h#":
                    phones[-1] = "h#"
                continue
            phones.append(phone)
            if segments is not None:
                times.append(segments[i])
        if not phones:
            raise DataError(f"{where}: no phones")
        return phones, (times if segments is not None else None)


def audio_duration(audio: Path, where: str) -> float:
    """Seconds of ``audio`` from its header; a missing or unreadable file is a ``DataError``
    naming ``where`` (the manifest line or file that points to it)."""
    if not audio.is_file():
        raise DataError(f"{where}: audio file {audio} not found")
    try:
        info = sf.info(str(audio))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DataError(f"{audio}: cannot read audio header ({err})") from None
    return info.frames / info.samplerate


def _check_end(segments: Segments | None, duration: float, where: str) -> None:
    if segments and segments[-1][1] > duration + _END_TOLERANCE:
        raise DataError(f"{where}: the last label ends at {segments[-1][1]:.3f} s, past the end "
                        f"of its audio ({duration:.3f} s)")


def _times(row: dict, count: int, where: str) -> Segments | None:
    """The ``times`` column (``count`` + 1 boundaries) as phone segments, if given."""
    if not row.get("times"):
        return None
    try:
        bounds = [float(t) for t in row["times"].split()]
    except ValueError:
        raise DataError(f"{where}: times must be numbers") from None
    if len(bounds) != count + 1 or bounds != sorted(bounds):
        raise DataError(f"{where}: times must be {count + 1} increasing boundaries for "
                        f"{count} phones, got {len(bounds)}")
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _read_tsv(path: Path, phone_map: PhoneMap,
              lexicon_cfg: LexiconConfig) -> list[tuple[Utterance, str | None]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
        header = rows[0].keys() if rows else []
    if "audio" not in header or not {"phones", "text"} & set(header):
        raise DataError(f"{path}: the header must name the columns audio and phones (or text: "
                        f"words, pronounced by the lexicon); found: {', '.join(header)}")
    found = []
    lexicon = None  # read on the first row with only a text
    for lineno, row in enumerate(rows, 2):
        where = f"{path}:{lineno}"
        if None in row:
            raise DataError(f"{where}: more fields than the header's {len(header)} columns")
        short = [c for c in header if row[c] is None]
        if short:
            raise DataError(f"{where}: {len(header) - len(short)} of the header's {len(header)} "
                            f"tab-separated fields (missing: {', '.join(short)})")
        audio = Path(row["audio"])
        audio = audio if audio.is_absolute() else path.parent / audio
        symbols = (row.get("phones") or "").split()
        if symbols:
            phones, segments = phone_map.convert(symbols, _times(row, len(symbols), where),
                                                 where)
        elif words_of(row.get("text") or ""):
            if row.get("times"):
                raise DataError(f"{where}: times need phones (a text has no phone times)")
            lexicon = lexicon or Lexicon(lexicon_cfg)
            phones, segments = lexicon.sentence(words_of(row["text"]), where), None
        else:
            raise DataError(f"{where}: neither phones nor text")
        duration = audio_duration(audio, where)
        _check_end(segments, duration, where)
        speaker = row.get("speaker") or audio.parent.name
        extra = {"text": row["text"]} if row.get("text") else {}
        found.append((Utterance(id=row.get("id") or f"{speaker}_{audio.stem}", audio=str(audio),
                                speaker=speaker, phones=phones, segments=segments,
                                duration=duration, extra=extra), row.get("split") or None))
    return found


def _read_jsonl(path: Path, phone_map: PhoneMap) -> list[tuple[Utterance, str | None]]:
    try:
        utts = read_manifest(path)
    except ManifestError as err:
        raise DataError(str(err)) from None
    found = []
    for utt in utts:
        where = f"{path} ({utt.id})"
        utt.phones, utt.segments = phone_map.convert(utt.phones, utt.segments, where)
        utt.duration = utt.duration or audio_duration(Path(utt.audio), where)
        _check_end(utt.segments, utt.duration, where)
        found.append((utt, utt.extra.pop("split", None)))
    return found


def _read_table(path: Path, phone_map: PhoneMap,
                lexicon_cfg: LexiconConfig) -> list[tuple[Utterance, str | None]]:
    if path.suffix.lower() == ".tsv":
        return _read_tsv(path, phone_map, lexicon_cfg)
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(path, phone_map)
    raise DataError(f"{path}: expected a .tsv or .jsonl file")


def scan_manifest(root: Path, phone_map: PhoneMap,
                  lexicon_cfg: LexiconConfig) -> list[tuple[Utterance, str | None]]:
    if root.is_file():
        return _read_table(root, phone_map, lexicon_cfg)
    found = []
    for split in SPLITS:
        files = [p for p in (root / f"{split}.tsv", root / f"{split}.jsonl") if p.is_file()]
        for path in files:
            found += [(utt, split) for utt, _ in _read_table(path, phone_map, lexicon_cfg)]
    return found


def read_textgrid(path: Path, root: Path, cfg: AlignedConfig, phone_map: PhoneMap) -> Utterance:
    grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=True)
    if cfg.tier not in grid.tierNames:
        raise DataError(f"{path}: no tier {cfg.tier!r} (tiers: {', '.join(grid.tierNames)}); "
                        "set data.aligned.tier")
    entries = grid.getTier(cfg.tier).entries
    symbols = [e.label for e in entries]
    segments = [(float(e.start), float(e.end)) for e in entries]
    phones, segments = phone_map.convert(symbols, segments, str(path))
    audio = next((a for a in (path.with_suffix(s) for s in _AUDIO_SUFFIXES) if a.is_file()), None)
    if audio is None:
        raise DataError(f"{path}: no audio beside it ({' or '.join(_AUDIO_SUFFIXES)})")
    duration = audio_duration(audio, str(path))
    _check_end(segments, duration, str(path))
    speaker = path.parent.name if path.parent != root else path.stem
    return Utterance(id=f"{speaker}_{path.stem}", audio=str(audio), speaker=speaker,
                     phones=phones, segments=segments, duration=duration)


def scan_textgrids(root: Path, cfg: AlignedConfig,
                   phone_map: PhoneMap) -> list[tuple[Utterance, str | None]]:
    if not root.is_dir():
        raise DataError(f"data.root={root}: corpus=textgrid needs a folder")
    found = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() == ".textgrid"):
        top = path.relative_to(root).parts[0].lower()
        found.append((read_textgrid(path, root, cfg, phone_map), top if top in SPLITS else None))
    return found


def prepare_aligned(cfg: AlignedConfig, root: str | None, corpus: str,
                    lexicon_cfg: LexiconConfig) -> dict:
    """Read a manifest table or a TextGrid folder into validated train/dev/test splits."""
    path = check_root(root, corpus)
    phone_map = PhoneMap(cfg)
    found = (scan_textgrids(path, cfg, phone_map) if corpus == "textgrid"
             else scan_manifest(path, phone_map, lexicon_cfg))
    if not found:
        what = ("TextGrid files" if corpus == "textgrid"
                else "utterances ({train,dev,test}.tsv/.jsonl)")
        raise DataError(f"data.root={root}: no {what} found")
    if cfg.split == "given":
        unsplit = [u.id for u, s in found if s not in SPLITS]
        if unsplit:
            raise DataError(f"data.root={root}: no train/dev/test split given for {unsplit[0]} "
                            f"and {len(unsplit) - 1} more (use per-split files or folders, a "
                            "split column, or data.aligned.split=speakers)")
        splits = {s: [u for u, split in found if split == s] for s in SPLITS}
        check_splits(splits, f"data.root={root}")
        return splits
    if cfg.split == "speakers":
        lists = {"train": cfg.train_speakers, "dev": cfg.dev_speakers, "test": cfg.test_speakers}
        return split_by_config((u for u, _ in found), lists, "data.aligned", root)
    raise DataError(f"data.aligned.split={cfg.split!r}: expected 'given' or 'speakers'")

