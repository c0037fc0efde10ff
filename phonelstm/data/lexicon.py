"""Words -> TIMIT-61 phones, for every corpus that has only text (LibriSpeech, FSDD, a text column).

A pronouncing dictionary in CMUdict form gives each word's ARPAbet variants; eSpeak NG
pronounces the words it lacks, through the one eSpeak-to-TIMIT table that labels the synthetic
corpus (``phonelstm.data.synth.labels``), so no utterance is dropped for an unknown word.
Both become TIMIT-61 as TIMIT's own transcriptions write speech (``sentence``):

- ARPAbet through the shipped map (``AH0`` -> ``ax``, ``ER0`` -> ``axr``, other stress digits
  dropped), the stress kept aside for the rules below;
- American flapping (``lexicon.flap``): ``t`` or ``d`` after a vowel (or a vowel and ``r``)
  and before an unstressed vowel becomes ``dx`` ("butter", "party", "needed");
- a closure before each stop and affricate (``t`` -> ``tcl t``, ``ch`` -> ``tcl ch``);
- ``h#`` at both ends for the silence around the utterance.

Dictionary files (``lexicon.dictionary``; the default ``cmudict`` is the CMU Pronouncing
Dictionary shipped in ``phonelstm/resources``, BSD licence beside it): one pronunciation per
line, ``word PH1 PH2 ...``, variants as ``word(2)`` or as repeated words, ``#`` comments and
``;;;`` comment lines (CMUdict), tab-separated LibriSpeech lexicons, and Montreal Forced
Aligner dictionaries whose numeric probability columns come between word and phones. Words
are matched in lower case.
"""

from __future__ import annotations

import lzma
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from phonelstm.config import LexiconConfig
from phonelstm.data.corpus import DataError, read_list, resource_path

SHIPPED = "cmudict"  # lexicon.dictionary naming the shipped CMUdict
_SHIPPED_FILE = "cmudict.dict.xz"
ARPABET_MAP = "arpabet_timit.map"
FALLBACK_VOICE = "en-us"

VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ax", "ax-h", "axr", "ay", "eh", "el", "em",
                    "en", "er", "ey", "ih", "ix", "iy", "ow", "oy", "uh", "uw", "ux"})
CLOSURES = {"b": "bcl", "d": "dcl", "g": "gcl", "p": "pcl", "t": "tcl", "k": "kcl",
            "ch": "tcl", "jh": "dcl"}
FLAPPED = frozenset({"t", "d"})
STOPS = frozenset({"p", "t", "k", "b", "d", "g"})
SYLLABIC = {"l": "el", "n": "en", "m": "em"}
# A schwa before a coronal or velar consonant is TIMIT's higher ix ("roses", "the cat").
IX_BEFORE = frozenset({"t", "d", "n", "dx", "s", "z", "sh", "zh", "ch", "jh", "th", "dh", "k",
                       "g", "ng"})
_VARIANT = re.compile(r"^(.+)\(\d+\)$")
_NUMBER = re.compile(r"^\d*\.?\d+$")
_WORD_CHARS = re.compile(r"[^a-z0-9'\-]+")

if TYPE_CHECKING:
    from phonelstm.data.synth.espeak import Espeak

# One phone of a pronunciation: a TIMIT-61 symbol and, for vowels, its stress (0 unstressed,
# 1 primary, 2 secondary; None for consonants).
Token = tuple[str, int | None]
Pron = tuple[Token, ...]


class LexiconError(DataError):
    """A dictionary file is malformed, or a word cannot be pronounced."""


@cache
def arpabet_table() -> dict[str, str]:
    """ARPAbet symbol (with or without stress) -> TIMIT-61, from the shipped map."""
    return dict(line.split() for line in read_list(ARPABET_MAP))


def arpabet_token(symbol: str, where: str) -> Token:
    """One ARPAbet symbol (``AH0``, ``T``) as a TIMIT-61 token with its stress."""
    table = arpabet_table()
    base, digit = symbol.rstrip("012"), symbol[len(symbol.rstrip("012")):]
    phone = table.get(symbol) or table.get(base)
    if phone is None or len(digit) > 1:
        raise LexiconError(f"{where}: {symbol!r} is not an ARPAbet phone (CMUdict's 39 phones, "
                           "vowels with a stress digit 0-2)")
    if phone in VOWELS:
        return phone, int(digit) if digit else 1
    return phone, None


def _open_text(path: Path) -> TextIO:
    """A text file, xz-compressed when its name ends in ``.xz`` (the shipped CMUdict)."""
    return lzma.open(path, "rt", encoding="utf-8") if path.suffix == ".xz" else \
        open(path, encoding="utf-8")


@cache
def read_dictionary(name: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Word (lower case) -> its ARPAbet variants in file order, from ``name`` (a path, or
    ``cmudict`` for the shipped CMUdict)."""
    path = resource_path(_SHIPPED_FILE) if name == SHIPPED else Path(name).expanduser()
    if not path.is_file():
        raise LexiconError(f"data.lexicon.dictionary={name}: file not found")
    entries: dict[str, list[tuple[str, ...]]] = {}
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                fields = line.split("#", 1)[0].split()
                if not fields or fields[0].startswith(";;;"):
                    continue
                word = fields[0].lower()
                variant = _VARIANT.match(word)
                if variant:
                    word = variant.group(1)
                symbols = fields[1:]
                while symbols and _NUMBER.match(symbols[0]):  # MFA probability columns
                    symbols = symbols[1:]
                if not symbols:
                    raise LexiconError(f"{path}:{lineno}: {fields[0]!r} has no phones")
                where = f"{path}:{lineno}"
                for symbol in symbols:
                    arpabet_token(symbol.upper(), where)
                entries.setdefault(word, []).append(tuple(s.upper() for s in symbols))
    except (OSError, UnicodeDecodeError, lzma.LZMAError) as err:
        raise LexiconError(f"{path}: cannot read the dictionary ({err})") from None
    if not entries:
        raise LexiconError(f"{path}: no pronunciations (expected 'word PH1 PH2 ...' lines)")
    return {word: tuple(variants) for word, variants in entries.items()}


def words_of(text: str) -> list[str]:
    """The words of a transcript: lower case, punctuation other than ``'`` and ``-`` removed."""
    return [w.strip("'-") for w in _WORD_CHARS.sub(" ", text.lower()).split() if w.strip("'-")]


@cache
def _espeak() -> Espeak:
    """The process's eSpeak NG engine with the fallback's American voice."""
    from phonelstm.data.synth.espeak import Espeak

    engine = Espeak()
    engine.set_voice(FALLBACK_VOICE, 175, 50, 50)
    return engine


def espeak_pron(word: str, where: str) -> Pron:
    """eSpeak NG's American pronunciation of ``word`` in TIMIT-61 tokens (pauses dropped)."""
    from phonelstm.data.synth import SynthError
    from phonelstm.data.synth.labels import to_timit

    try:
        _, events = _espeak().synth(word)
        tokens: list[Token] = []
        for name, _ in events:
            phones = to_timit(name, FALLBACK_VOICE)
            if phones == ("pau",):
                continue
            stress = 1 if name.startswith("'") else 2 if name.startswith(",") else 0
            tokens += [(p, stress if p in VOWELS else None) for p in phones]
    except SynthError as err:
        raise LexiconError(f"{where}: eSpeak NG cannot pronounce {word!r} ({err})") from None
    if not tokens:
        raise LexiconError(f"{where}: neither the dictionary nor eSpeak NG can pronounce "
                           f"{word!r}")
    return tuple(tokens)


@dataclass
class Lexicon:
    """Pronunciations of words in TIMIT-61 (see the module docstring).

    ``fallback_words`` counts the words eSpeak pronounced, for the preparers' report."""

    cfg: LexiconConfig = field(default_factory=LexiconConfig)
    fallback_words: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cfg.fallback not in ("espeak", "none"):
            raise LexiconError(f"data.lexicon.fallback={self.cfg.fallback!r}: expected espeak "
                               "or none")
        self.entries = read_dictionary(self.cfg.dictionary)
        self._fallback: dict[str, Pron] = {}

    def variants(self, word: str, where: str) -> list[Pron]:
        """Every pronunciation of ``word``: the dictionary's, else eSpeak NG's one."""
        key = word.lower()
        for candidate in (key, key.strip("'"), key.replace("-", "")):
            if candidate in self.entries:
                return [tuple(arpabet_token(s, where) for s in v)
                        for v in self.entries[candidate]]
        if "-" in key.strip("-"):  # a compound the dictionary has in parts
            parts = [self.variants(part, where)[0] for part in key.split("-") if part]
            return [tuple(t for part in parts for t in part)]
        if self.cfg.fallback == "none":
            raise LexiconError(f"{where}: {word!r} is not in the dictionary "
                               f"({self.cfg.dictionary}) and data.lexicon.fallback=none")
        if key not in self._fallback:
            self._fallback[key] = espeak_pron(key, where)
        self.fallback_words[key] = self.fallback_words.get(key, 0) + 1
        return [self._fallback[key]]

    def sentence(self, words: Sequence[str], where: str,
                 choice: Sequence[int] | None = None) -> list[str]:
        """TIMIT-61 phones of a word sequence, ``h#`` at both ends: variant ``choice[i]`` of
        word ``i`` (the first variant of each without ``choice``)."""
        if not words:
            raise LexiconError(f"{where}: no words to pronounce")
        prons = []
        for i, word in enumerate(words):
            variants = self.variants(word, where)
            prons.append(variants[choice[i] if choice else 0])
        return self.phones(prons)

    def phones(self, prons: Sequence[Pron]) -> list[str]:
        """Word pronunciations joined into TIMIT-61 phones (see the module docstring)."""
        tokens = [t for pron in prons for t in pron]
        starts, ends, position = set(), set(), 0
        for pron in prons:
            starts.add(position)
            position += len(pron)
            ends.add(position - 1)
        cfg = self.cfg
        phones = ["h#"]
        syllabic = False
        for i, (phone, stress) in enumerate(tokens):
            after = tokens[i + 1][0] if i + 1 < len(tokens) else "h#"
            if syllabic:
                phone, syllabic = SYLLABIC[phone], False
            elif cfg.flap and i not in starts and self._flapped(tokens, i, i in ends):
                phone = "dx"
            elif phone == "ax" and stress == 0 and cfg.reduce and i not in starts:
                beyond = tokens[i + 2][0] if i + 2 < len(tokens) else "h#"
                if after in SYLLABIC and i + 1 not in starts and (
                        i + 1 in ends or beyond not in VOWELS):
                    syllabic = True  # "seven", "little": the consonant carries the syllable
                    continue
                if after in IX_BEFORE:
                    phone = "ix"
            if phone in CLOSURES:
                if phones[-1] != "h#" or not cfg.unreleased:
                    phones.append(CLOSURES[phone])
                if cfg.unreleased and phone in STOPS and i in ends and after not in VOWELS \
                        and after != "h#":
                    continue  # a stop before another word's consonant: closure only
            phones.append(phone)
        return phones + ["h#"]

    def _flapped(self, tokens: Sequence[Token], i: int, crosses: bool) -> bool:
        """``t``/``d`` after a vowel (or vowel + ``r``) before an unstressed vowel; at a word's
        end, before any vowel."""
        if tokens[i][0] not in FLAPPED or i == 0 or i + 1 == len(tokens):
            return False
        before = tokens[i - 1][0]
        if before == "r" and i >= 2:
            before = tokens[i - 2][0]
        after, stress = tokens[i + 1]
        if before not in VOWELS or after not in VOWELS or after in ("en", "em"):
            return False
        return crosses or stress == 0
