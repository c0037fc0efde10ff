"""eSpeak phoneme events -> TIMIT-61 segments that tile the audio, stop closures included."""

from __future__ import annotations

import numpy as np

from phonelstm.data.synth import SynthError

# eSpeak NG English phoneme mnemonics (stress marks stripped) -> TIMIT-61 phones. A span that
# maps to two phones is split at _LATE_SHARE. Stop closures are not eSpeak phonemes: they are
# found in the signal (see label_utterance). Every phoneme eSpeak emits for the 720 sentences in
# the 8 accents at the rates used here is listed, and every one its en-us voice emitted for
# 30,000 CMUdict words (the lexicon's fallback, phonelstm.data.lexicon); anything else raises
# SynthError.
ESPEAK_TO_TIMIT: dict[str, tuple[str, ...]] = {
    # Pauses; leading and trailing silence becomes h#.
    "_": ("pau",),
    "_:": ("pau",),  # clause pause (comma, full stop)
    "_!": ("pau",),  # short pause eSpeak inserts between some words
    "_|": ("pau",),  # syllable break, usually zero length (en-gb-x-gbcwmd)
    # Stops and affricates (closure labels added from the signal).
    "p": ("p",),
    "t": ("t",),
    "t2": ("t",),  # t before syllabic n, "button" (en-us)
    "t[": ("t",),  # dental t for th, "thin" (en-029)
    "k": ("k",),
    "b": ("b",),
    "d": ("d",),
    "g": ("g",),
    "tS": ("ch",),
    "dZ": ("jh",),
    "t#": ("dx",),  # flap, "butter" (en-us)
    "?": ("q",),  # glottal stop
    "x": ("k",),  # velar fricative of borrowed words, "Bach"; TIMIT has none
    # Fricatives. eSpeak has one h; TIMIT's voiced hv is not distinguished.
    "f": ("f",),
    "v": ("v",),
    "T": ("th",),
    "D": ("dh",),
    "s": ("s",),
    "z": ("z",),
    "S": ("sh",),
    "Z": ("zh",),
    "h": ("hh",),
    # Nasals.
    "m": ("m",),
    "n": ("n",),
    "N": ("ng",),
    "n-": ("en",),  # syllabic n, "button"
    # Liquids and glides.
    "l": ("l",),
    "l#": ("l",),  # voiceless Welsh ll, "Llanview"
    "@L": ("el",),  # syllabic l, "little"
    "r": ("r",),
    "r-": ("r",),  # linking r, "far away"
    "w": ("w",),
    "w#": ("w",),  # voiceless [ʍ], "which" (en-gb-scotland); TIMIT has no voiceless w
    "j": ("y",),
    ";": ("y",),  # y-glide linking i to a vowel, "the evening"
    # Monophthongs.
    "i:": ("iy",),
    "i": ("iy",),  # final unstressed i, "happy"
    "I": ("ih",),
    "I2": ("ix",),  # unstressed I, "roses"
    "I#": ("ix",),  # [ᵻ], "wanted" (en-us)
    "E": ("eh",),
    "a": ("ae",),  # TRAP, [æ] or [a]
    "aa": ("ae",),  # BATH, [æ] or [a]; [ɑː] in en-gb-x-rp (override)
    "a#": ("ax",),  # reduced [ɐ], "a", "about"
    "A:": ("aa",),
    "A@": ("aa",),  # START [ɑː]; r-coloured in en-us (override)
    "0": ("aa",),  # LOT [ɒ] or [ɑː]
    "O:": ("ao",),
    "O2": ("ao",),  # [ɔ], "long" (en-us)
    "O@": ("ao",),  # NORTH; r-coloured in en-us (override)
    "o@": ("ao",),  # FORCE; r-coloured in en-us (override)
    "U": ("uh",),
    "u:": ("uw",),
    "V": ("ah",),  # STRUT; [ʊ] in northern English (override)
    "3:": ("er",),  # NURSE
    "3": ("ax",),  # lettER, non-rhotic [ə]; [ɚ] in en-us (override)
    "@": ("ax",),
    "@2": ("ax",),  # schwa of "the", "to" before a consonant
    "@5": ("ax",),  # rounded schwa of "to" (en-gb-x-rp)
    "@-": ("ax",),  # schwa before a syllabic consonant, "national"
    "O": ("ao",),  # short [ɔ] of borrowed names, "Alwyn"
    "A~": ("aa",),  # French nasal vowel, "Blanc"
    "IR": ("er",),  # NURSE [əɹ] (en-gb-scotland)
    # Diphthongs. Non-rhotic centring diphthongs [Və] are V + ax.
    "eI": ("ey",),
    "aI": ("ay",),
    "aI2": ("ay",),  # [aɪ] before voiced consonants (en-gb-scotland)
    "OI": ("oy",),
    "aU": ("aw",),
    "oU": ("ow",),
    "e@": ("eh", "ax"),  # SQUARE
    "i@": ("iy", "ax"),  # "idea"
    "i@3": ("ih", "ax"),  # NEAR
    "U@": ("uh", "ax"),  # CURE
    "aI@": ("ay", "ax"),  # "fire"
    "aI3": ("ay", "axr"),  # "fire" (en-us)
    "VR": ("ah", "r"),  # [ʌɹ], "hurt" (en-gb-scotland)
}

# Where an accent realises a phoneme as a different TIMIT category (from eSpeak's IPA output
# per accent): rhotic vowels in en-us, northern English STRUT, RP BATH and CURE, Scottish u.
ACCENT_OVERRIDES: dict[str, dict[str, tuple[str, ...]]] = {
    "en-us": {
        "3": ("axr",),
        "A@": ("aa", "r"),
        "O@": ("ao", "r"),
        "o@": ("ao", "r"),
        "e@": ("eh", "r"),
        "i@3": ("ih", "r"),
        "U@": ("uh", "r"),
    },
    "en-gb-x-rp": {"aa": ("aa",), "U@": ("ao",), "i": ("ih",)},
    "en-gb-x-gbclan": {"V": ("uh",)},
    "en-gb-x-gbcwmd": {"V": ("uh",), "aI": ("oy",), "e@": ("er",)},
    "en-gb-scotland": {
        "e@": ("eh",),
        "i@3": ("ih",),
        "U@": ("ux",),
        "U": ("ux",),
        "u:": ("ux",),
        "i": ("ey",),
    },
}

# Closure label of each stop; a glottal stop's silence is part of the q.
STOP_CLOSURES: dict[str, str] = {
    "p": "pcl", "t": "tcl", "k": "kcl", "ch": "tcl",
    "b": "bcl", "d": "dcl", "g": "gcl", "jh": "dcl",
    "q": "q",
}  # fmt: skip
_VOICED_STOPS = frozenset({"b", "d", "g", "jh"})
STRESS_MARKS = "',"

_LATE_SHARE = 0.4  # share of a span for the second of two phones, or a liquid folded into a vowel
_MIN_SEG = 66  # 3 ms at 22.05 kHz: no cut leaves a piece that could vanish at 16 kHz
_FRAME = 55  # 2.5 ms frames for the voice-bar detector
_VOICE_BAR_TILT = 0.15  # rms(first difference) / rms(signal) below this: low-pass murmur
_VOICE_BAR_ONSET = 3  # frames: the vowel's last pitch period may spill into the stop's span


def to_timit(phoneme: str, accent: str) -> tuple[str, ...]:
    """TIMIT-61 phones for one eSpeak phoneme event name (stress marks allowed)."""
    name = phoneme.lstrip(STRESS_MARKS)
    phones = ACCENT_OVERRIDES.get(accent, {}).get(name) or ESPEAK_TO_TIMIT.get(name)
    if phones is None:
        raise SynthError(
            f"eSpeak phoneme {name!r} (voice {accent}) has no TIMIT-61 mapping; "
            "add it to ESPEAK_TO_TIMIT in phonelstm/data/synth/labels.py"
        )
    return phones


def _voice_bar(span: np.ndarray) -> int:
    """Samples of low-frequency murmur (or silence) at the start of a voiced stop's span.

    eSpeak voices a closure after a vowel with a smooth murmur; the release adds a noise burst.
    The ratio of first-difference to signal energy separates the two.
    """
    n_frames = len(span) // _FRAME
    x = span[: n_frames * _FRAME].astype(np.float64)
    diff = np.diff(x, prepend=x[:1])
    energy = (x.reshape(n_frames, _FRAME) ** 2).sum(axis=1)
    high = (diff.reshape(n_frames, _FRAME) ** 2).sum(axis=1)
    murmur = (high < _VOICE_BAR_TILT**2 * energy) | (energy == 0)
    onset = np.flatnonzero(murmur[:_VOICE_BAR_ONSET])
    if len(onset) == 0:
        return 0
    release = np.flatnonzero(~murmur[onset[0] :])
    return int(onset[0] + (release[0] if len(release) else n_frames - onset[0])) * _FRAME


def _trailing_zeros(x: np.ndarray) -> int:
    nonzero = np.flatnonzero(x)
    return len(x) - (int(nonzero[-1]) + 1 if len(nonzero) else 0)


def _divide(labels: tuple[str, ...], start: int, end: int) -> list[list]:
    if len(labels) == 1:
        return [[labels[0], start, end]]
    cut = end - round((end - start) * _LATE_SHARE)
    return [[labels[0], start, cut], [labels[1], cut, end]]


def label_utterance(
    events: list[tuple[str, int]], audio: np.ndarray, accent: str
) -> list[tuple[str, int, int]]:
    """TIMIT-61 segments ``(phone, start, end)`` covering ``audio`` (eSpeak's int16 output).

    ``events`` are eSpeak phoneme events ``(name, first sample)``. Each phoneme spans up to the
    next event. eSpeak puts a stop's silent closure before its event, so the trailing digital
    silence of the previous span becomes the closure; a voiced stop's murmur at the start of its
    own span joins it. Leading and trailing silence is h#, other silence pau.
    """
    n = len(audio)
    starts = [s for _, s in events] + [n]
    if any(b < a for a, b in zip(starts, starts[1:], strict=False)):
        raise SynthError(f"eSpeak phoneme events are not in time order: {events}")
    phones = [to_timit(name, accent) for name, _ in events]
    # An r-coloured vowel before an explicit r: one r.
    for i in range(len(phones) - 1):
        if len(phones[i]) == 2 and phones[i][1] == "r" and phones[i + 1][0] == "r":
            phones[i] = phones[i][:1]

    segs: list[list] = [["pau", 0, starts[0]]] if starts[0] > 0 else []
    for i, labels in enumerate(phones):
        start, end = starts[i], starts[i + 1]
        if labels == ("pau",):
            if segs and (segs[-1][0] == "pau" or end - start < _MIN_SEG):
                segs[-1][2] = end  # slivers of silence join their neighbour
            elif end > start:
                segs.append(["pau", start, end])
            continue
        if end - start < _MIN_SEG * len(labels):
            # eSpeak folds some post-vocalic liquids into the vowel ("tell"): they get the end
            # of the vowel's span.
            if not segs or segs[-1][0] == "pau" or segs[-1][2] - segs[-1][1] < 3 * _MIN_SEG:
                raise SynthError(
                    f"eSpeak gave phoneme {events[i][0]!r} (voice {accent}) no audio and no "
                    "preceding phone to share"
                )
            last = segs.pop()
            cut = last[2] - round((last[2] - last[1]) * _LATE_SHARE)
            segs += [[last[0], last[1], cut], *_divide(labels, cut, end)]
            continue
        segs += _divide(labels, start, end)

    labelled: list[list] = []
    for seg in segs:
        closure = STOP_CLOSURES.get(seg[0])
        prev = labelled[-1] if labelled else None
        if closure is not None and prev is not None and prev[0] != "pau":
            before = min(_trailing_zeros(audio[prev[1] : prev[2]]), prev[2] - prev[1] - _MIN_SEG)
            after = 0
            if seg[0] in _VOICED_STOPS:
                after = min(_voice_bar(audio[seg[1] : seg[2]]), seg[2] - seg[1] - _MIN_SEG)
            before, after = max(before, 0), max(after, 0)
            if before + after >= _MIN_SEG:
                prev[2] -= before
                if closure == seg[0]:
                    seg = [seg[0], seg[1] - before, seg[2]]
                else:
                    labelled.append([closure, seg[1] - before, seg[1] + after])
                    seg = [seg[0], seg[1] + after, seg[2]]
        labelled.append(seg)

    # Silence at either end is h#, and adjacent silences are one segment.
    for seg in labelled:
        if seg[0] != "pau":
            break
        seg[0] = "h#"
    for seg in reversed(labelled):
        if seg[0] != "pau":
            break
        seg[0] = "h#"
    merged: list[list] = []
    for seg in labelled:
        if merged and seg[0] == merged[-1][0] and seg[0] in ("pau", "h#"):
            merged[-1][2] = seg[2]
        else:
            merged.append(seg)
    if merged[0][0] != "h#" or merged[-1][0] != "h#":
        raise SynthError("an utterance does not start and end in silence; pad it before labelling")
    return [(label, start, end) for label, start, end in merged]

