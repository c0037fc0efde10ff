"""Phone inventories: TIMIT's 61 phones, the 61 -> 48 -> 39 folding, CTC vocabularies.

The folding is Lee & Hon (1989) as used by Graves et al. (2013) and the Kaldi/ESPnet TIMIT
recipes: 61 phones are used for training, and hypotheses and references are both folded to
39 classes before scoring. The glottal stop ``q`` has no class in the 48/39 sets and is
removed from both sides when scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from phonelstm.errors import PhonelstmError

BLANK = "<blank>"

TIMIT61: tuple[str, ...] = (
    "aa", "ae", "ah", "ao", "aw", "ax", "ax-h", "axr", "ay", "b", "bcl", "ch", "d", "dcl",
    "dh", "dx", "eh", "el", "em", "en", "eng", "epi", "er", "ey", "f", "g", "gcl", "h#",
    "hh", "hv", "ih", "ix", "iy", "jh", "k", "kcl", "l", "m", "n", "ng", "nx", "ow", "oy",
    "p", "pau", "pcl", "q", "r", "s", "sh", "t", "tcl", "th", "uh", "uw", "ux", "v", "w",
    "y", "z", "zh",
)  # fmt: skip

# 61 -> 48 (Lee & Hon 1989, Kaldi's phones.60-48-39.map); "q" maps to nothing.
_FOLD_61_TO_48: dict[str, str | None] = {
    "aa": "aa", "ae": "ae", "ah": "ah", "ao": "ao", "aw": "aw", "ax": "ax", "ax-h": "ax",
    "axr": "er", "ay": "ay", "b": "b", "bcl": "vcl", "ch": "ch", "d": "d", "dcl": "vcl",
    "dh": "dh", "dx": "dx", "eh": "eh", "el": "el", "em": "m", "en": "en", "eng": "ng",
    "epi": "epi", "er": "er", "ey": "ey", "f": "f", "g": "g", "gcl": "vcl", "h#": "sil",
    "hh": "hh", "hv": "hh", "ih": "ih", "ix": "ix", "iy": "iy", "jh": "jh", "k": "k",
    "kcl": "cl", "l": "l", "m": "m", "n": "n", "ng": "ng", "nx": "n", "ow": "ow", "oy": "oy",
    "p": "p", "pau": "sil", "pcl": "cl", "q": None, "r": "r", "s": "s", "sh": "sh", "t": "t",
    "tcl": "cl", "th": "th", "uh": "uh", "uw": "uw", "ux": "uw", "v": "v", "w": "w", "y": "y",
    "z": "z", "zh": "zh",
}  # fmt: skip

# 48 -> 39: the further merges applied for scoring.
_FOLD_48_TO_39: dict[str, str] = {
    "ao": "aa", "ax": "ah", "cl": "sil", "vcl": "sil", "epi": "sil", "el": "l", "en": "n",
    "ix": "ih", "zh": "sh",
}  # fmt: skip

TIMIT48: tuple[str, ...] = tuple(sorted({p for p in _FOLD_61_TO_48.values() if p}))
TIMIT39: tuple[str, ...] = tuple(sorted({_FOLD_48_TO_39.get(p, p) for p in TIMIT48}))


class UnknownPhoneError(PhonelstmError):
    """A phone symbol is not in the inventory it was checked against."""


def fold(phones: Iterable[str], target: int = 39) -> list[str]:
    """Fold TIMIT-61 phones to the 61-, 48- or 39-phone set; ``q`` is dropped for 48/39.

    Symbols already in the target set pass through, so folding is idempotent.
    """
    if target == 61:
        return list(phones)
    if target not in (48, 39):
        raise ValueError(f"fold target must be 61, 48 or 39, got {target}")
    folded: list[str] = []
    for phone in phones:
        if phone in _FOLD_61_TO_48:
            phone48 = _FOLD_61_TO_48[phone]
        elif phone in TIMIT48:
            phone48 = phone
        else:
            raise UnknownPhoneError(f"phone {phone!r} is not a TIMIT-61/48 symbol")
        if phone48 is None:
            continue
        folded.append(_FOLD_48_TO_39.get(phone48, phone48) if target == 39 else phone48)
    return folded


@dataclass(frozen=True)
class Vocabulary:
    """Output symbols of a model. For CTC the blank is index 0 and phones follow."""

    symbols: tuple[str, ...]

    @classmethod
    def for_ctc(cls, phones: Sequence[str] = TIMIT61) -> Vocabulary:
        return cls((BLANK, *phones))

    @classmethod
    def for_frames(cls, phones: Sequence[str] = TIMIT61) -> Vocabulary:
        return cls(tuple(phones))

    @property
    def has_blank(self) -> bool:
        return bool(self.symbols) and self.symbols[0] == BLANK

    @property
    def phones(self) -> tuple[str, ...]:
        """The phone symbols, without the blank."""
        return self.symbols[1:] if self.has_blank else self.symbols

    def __len__(self) -> int:
        return len(self.symbols)

    def index(self, phone: str) -> int:
        try:
            return self._lookup[phone]
        except KeyError:
            raise UnknownPhoneError(
                f"phone {phone!r} is not in the model's phone set ({len(self.phones)} phones)"
            ) from None

    def encode(self, phones: Iterable[str]) -> list[int]:
        return [self.index(p) for p in phones]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.symbols[i] for i in ids]

    @property
    def _lookup(self) -> dict[str, int]:
        # Cached on first use; the dataclass is frozen, so bypass __setattr__.
        table = self.__dict__.get("_table")
        if table is None:
            table = {s: i for i, s in enumerate(self.symbols)}
            object.__setattr__(self, "_table", table)
        return table
