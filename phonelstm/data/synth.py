"""Embedded synthetic speech corpus: eSpeak NG reads the Harvard sentences, labelled in TIMIT-61.

So the toolkit runs with no licensed data, ``prepare_synth`` synthesises a small corpus with
eSpeak NG (PyPI ``espeakng-loader``, driven through ``ctypes``):

- text: the 720 Harvard sentences (IEEE 1969, public domain), ``resources/harvard_sentences.txt``;
- speakers: an eSpeak accent plus a voice variant, each with its own rate, pitch and pitch range
  drawn from the seed; each variant is used by one speaker only, so the speaker-disjoint
  train/dev/test splits never share a voice quality either;
- labels: eSpeak's phoneme events give each phoneme's first output sample; ``ESPEAK_TO_TIMIT``
  maps the phonemes onto TIMIT-61, stop closures are read off the signal (``label_utterance``);
- output: ``wav/<speaker>/<id>.wav`` (16-bit PCM) and TIMIT-style ``<id>.phn`` (sample indices)
  beside it, and the manifests ``{train,dev,test}.jsonl``.

eSpeak keeps state between calls, so the same call sequence is needed for the same audio: each
speaker is synthesised in a fresh worker process with a seeded noise generator, and the corpus is
byte-identical for a given config whatever the number of workers.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import multiprocessing
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from phonelstm.config import SynthConfig
from phonelstm.data.corpus import DataError, check_splits, write_splits
from phonelstm.data.manifest import SPLITS, Utterance

log = logging.getLogger(__name__)

# Bump when the output for an unchanged config changes (labelling rules, file layout, catalog).
FORMAT_VERSION = 2
STAMP_NAME = ".complete"


class SynthError(DataError, RuntimeError):
    """The synthetic corpus cannot be built: bad config, eSpeak failure or an unmapped phoneme."""


# --------------------------------------------------------------------------------------------
# Speakers
# --------------------------------------------------------------------------------------------

# English accents of eSpeak NG (en-Shaw is a spelling, not an accent).
ACCENTS: tuple[str, ...] = (
    "en-us", "en", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-us-nyc",
)  # fmt: skip

# Voice variants (espeak-ng-data/voices/!v). Left out: every variant with an echo (m2, f2-f5,
# Alicia, Marco, robots): the echo fills stop closures, which are labelled from the silence
# they leave (see label_utterance); whispered or unvoiced ones (whisper, whisperf, caleb);
# novelty voices (croak, Demonic, Tweaky, fast); near-duplicates of a listed one.
VARIANTS: tuple[str, ...] = (
    "m1", "m3", "m4", "m5", "m6", "m7", "m8", "f1",
    "Alex", "Andrea", "Annie", "Denis", "Gene", "Hugo", "Michael", "Mike", "Nguyen", "adam",
    "anika", "antonio", "aunty", "belinda", "benjamin", "david", "ed", "edward", "grandma",
    "grandpa", "gustave", "iven", "linda", "marcelo", "max", "michel", "mike2", "paul",
    "pedro", "quincy", "robert", "sandro", "shelby", "steph", "steph3", "travis", "victor",
    "zac",
)  # fmt: skip

# Speaker i reads with VARIANTS[i] in accent ACCENTS[i % 8]: a fixed catalog, so a speaker's
# name always means the same accent and variant (rate and pitch follow the seed).
CATALOG: tuple[tuple[str, str], ...] = tuple(
    (ACCENTS[i % len(ACCENTS)], variant) for i, variant in enumerate(VARIANTS)
)

_WPM = (150, 200)  # speaking rate, words per minute (eSpeak's default is 175)
_PITCH = (35, 65)  # eSpeak base pitch, 0-100 (50 is the variant's own)
_PITCH_RANGE = (40, 80)  # eSpeak intonation range, 0-100 (0 is monotone)


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an eSpeak accent and voice variant at a fixed rate and pitch."""

    name: str
    accent: str
    variant: str
    rate: int
    pitch: int
    pitch_range: int

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"


def _speaker(seed: int, index: int) -> Speaker:
    accent, variant = CATALOG[index]
    # Seeded by catalog index alone: a speaker's voice does not depend on the split sizes.
    rng = np.random.default_rng([seed, index])
    return Speaker(
        name=f"{accent}_{variant.lower()}",
        accent=accent,
        variant=variant,
        rate=int(rng.integers(_WPM[0], _WPM[1] + 1)),
        pitch=int(rng.integers(_PITCH[0], _PITCH[1] + 1)),
        pitch_range=int(rng.integers(_PITCH_RANGE[0], _PITCH_RANGE[1] + 1)),
    )


def plan_speakers(cfg: SynthConfig) -> dict[str, list[Speaker]]:
    """Speaker-disjoint split of the catalog: dev and test first, then train, in seeded order."""
    n_train = cfg.train_voices or len(CATALOG) - cfg.dev_voices - cfg.test_voices
    counts = {"dev": cfg.dev_voices, "test": cfg.test_voices, "train": n_train}
    if min(counts.values()) < 1:
        raise SynthError(
            f"synth needs at least one speaker per split, got {counts}; "
            "set data.synth.dev_voices/test_voices/train_voices >= 1"
        )
    if sum(counts.values()) > len(CATALOG):
        raise SynthError(
            f"synth has {len(CATALOG)} speakers but the config asks for {sum(counts.values())} "
            f"({counts}); lower data.synth.train_voices/dev_voices/test_voices"
        )
    order = np.random.default_rng(cfg.seed).permutation(len(CATALOG)).tolist()
    plan, taken = {}, 0
    for split in ("dev", "test", "train"):
        indices = order[taken : taken + counts[split]]
        plan[split] = [_speaker(cfg.seed, i) for i in sorted(indices)]
        taken += counts[split]
    return {split: plan[split] for split in SPLITS}


@lru_cache(maxsize=1)
def harvard_sentences() -> tuple[str, ...]:
    """The 720 Harvard sentences shipped as package data (comment lines skipped)."""
    text = (
        resources.files("phonelstm")
        .joinpath("resources/harvard_sentences.txt")
        .read_text(encoding="utf-8")
    )
    return tuple(s for s in (line.strip() for line in text.splitlines()) if s and s[0] != "#")


# --------------------------------------------------------------------------------------------
# eSpeak phonemes -> TIMIT-61
# --------------------------------------------------------------------------------------------

# eSpeak NG English phoneme mnemonics (stress marks stripped) -> TIMIT-61 phones. A span that
# maps to two phones is split at _LATE_SHARE. Stop closures are not eSpeak phonemes: they are
# found in the signal (see label_utterance). Every phoneme eSpeak emits for the 720 sentences in
# the 8 accents at the rates used here is listed; anything else raises SynthError.
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
_STRESS_MARKS = "',"

_LATE_SHARE = 0.4  # share of a span for the second of two phones, or a liquid folded into a vowel
_MIN_SEG = 66  # 3 ms at 22.05 kHz: no cut leaves a piece that could vanish at 16 kHz
_FRAME = 55  # 2.5 ms frames for the voice-bar detector
_VOICE_BAR_TILT = 0.15  # rms(first difference) / rms(signal) below this: low-pass murmur
_VOICE_BAR_ONSET = 3  # frames: the vowel's last pitch period may spill into the stop's span


def to_timit(phoneme: str, accent: str) -> tuple[str, ...]:
    """TIMIT-61 phones for one eSpeak phoneme event name (stress marks allowed)."""
    name = phoneme.lstrip(_STRESS_MARKS)
    phones = ACCENT_OVERRIDES.get(accent, {}).get(name) or ESPEAK_TO_TIMIT.get(name)
    if phones is None:
        raise SynthError(
            f"eSpeak phoneme {name!r} (voice {accent}) has no TIMIT-61 mapping; "
            "add it to ESPEAK_TO_TIMIT in phonelstm/data/synth.py"
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


# --------------------------------------------------------------------------------------------
# eSpeak NG through ctypes (speak_lib.h)
# --------------------------------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # a sentence pause after the text, so every utterance ends in silence
_POS_CHARACTER = 1
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),  # first output sample of the event
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Espeak:
    """The process's eSpeak NG engine in synchronous mode, collecting audio and phoneme events."""

    def __init__(self, seed: int = 0) -> None:
        import espeakng_loader

        self._lib = lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]  # fmt: skip
        data = espeakng_loader.get_data_path()
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), _INITIALIZE_PHONEME_EVENTS
        )
        if self.sample_rate <= 0:
            raise SynthError(f"eSpeak NG failed to initialise with data {data}")
        # espeak_Initialize seeds eSpeak's noise generator (breathy variants) from the clock.
        lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        self._chunks: list[bytes] = []
        self._events: list[tuple[str, int]] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # referenced here so it is not freed
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n_samples: int, events) -> int:
        if wav and n_samples > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * n_samples))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                name = events[i].id.string.decode("utf-8", errors="replace")
                self._events.append((name, events[i].sample))
            i += 1
        return 0

    def set_speaker(self, speaker: Speaker) -> None:
        if self._lib.espeak_SetVoiceByName(speaker.voice.encode()) != 0:
            raise SynthError(f"eSpeak NG has no voice {speaker.voice!r}")
        for param, value in (
            (_PARAM_RATE, speaker.rate),
            (_PARAM_PITCH, speaker.pitch),
            (_PARAM_RANGE, speaker.pitch_range),
        ):
            self._lib.espeak_SetParameter(param, value, 0)

    def synth(self, text: str) -> tuple[np.ndarray, list[tuple[str, int]]]:
        """int16 audio at ``sample_rate`` and the phoneme events ``(name, first sample)``."""
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        status = self._lib.espeak_Synth(
            data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
        )
        if status != 0 or not self._chunks:
            raise SynthError(f"eSpeak NG failed (status {status}) on {text!r}")
        return np.frombuffer(b"".join(self._chunks), dtype=np.int16), self._events


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------

_LEAD_SILENCE_S = (0.05, 0.25)  # eSpeak starts speaking after ~12 ms; TIMIT h# is longer
_TRAIL_SILENCE_S = (0.02, 0.1)  # added to eSpeak's sentence pause


@dataclass(frozen=True)
class _Job:
    speaker: Speaker
    catalog_index: int
    sentences: tuple[tuple[int, str], ...]  # (index in the Harvard list, text)
    out_dir: str
    seed: int
    sample_rate: int
    noise_std: float


def _synth_speaker(job: _Job) -> list[Utterance]:
    """Synthesise, label and write one speaker's utterances (in a fresh worker process)."""
    engine = _Espeak(seed=job.seed * len(CATALOG) + job.catalog_index)
    engine.set_speaker(job.speaker)
    speaker_dir = Path(job.out_dir) / "wav" / job.speaker.name
    speaker_dir.mkdir(parents=True, exist_ok=True)
    utterances = []
    for index, text in job.sentences:
        raw, events = engine.synth(text)
        rng = np.random.default_rng([job.seed, job.catalog_index, index])
        lead = round(rng.uniform(*_LEAD_SILENCE_S) * engine.sample_rate)
        trail = round(rng.uniform(*_TRAIL_SILENCE_S) * engine.sample_rate)
        raw = np.concatenate([np.zeros(lead, np.int16), raw, np.zeros(trail, np.int16)])
        events = [(name, sample + lead) for name, sample in events]
        segments = label_utterance(events, raw, job.speaker.accent)

        # soxr is librosa's resampler (res_type="soxr_hq"); called directly because the first
        # librosa.resample in a process imports scipy and numba, seconds in every fresh worker.
        audio = soxr.resample(
            raw.astype(np.float32) / 32768.0, engine.sample_rate, job.sample_rate, quality="HQ"
        )
        audio = audio + rng.normal(0.0, job.noise_std, len(audio)).astype(np.float32)
        audio = np.clip(audio, -1.0, 32767 / 32768)
        n = len(audio)
        scale = job.sample_rate / engine.sample_rate
        bounds = [min(round(start * scale), n) for _, start, _ in segments] + [n]
        if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise SynthError(f"a phone vanished when resampling {job.speaker.name} h{index + 1}")

        utt_id = f"{job.speaker.name}_h{index + 1:03d}"
        wav_path = speaker_dir / f"{utt_id}.wav"
        sf.write(wav_path, audio, job.sample_rate, subtype="PCM_16")
        labels = [label for label, _, _ in segments]
        phn = "".join(
            f"{a} {b} {label}\n" for label, a, b in zip(labels, bounds, bounds[1:], strict=False)
        )
        wav_path.with_suffix(".phn").write_text(phn, encoding="utf-8")
        utterances.append(
            Utterance(
                id=utt_id,
                audio=str(wav_path),
                speaker=job.speaker.name,
                phones=labels,
                segments=[
                    (a / job.sample_rate, b / job.sample_rate)
                    for a, b in zip(bounds, bounds[1:], strict=False)
                ],
                duration=n / job.sample_rate,
                extra={"text": text, "voice": job.speaker.voice},
            )
        )
    return utterances


def _cache_key(cfg: SynthConfig) -> str:
    """Hash of everything that shapes the corpus; the worker count does not."""
    fields = {k: v for k, v in asdict(cfg).items() if k != "workers"}
    blob = json.dumps(
        {
            "format": FORMAT_VERSION,
            "config": fields,
            "espeakng_loader": metadata.version("espeakng-loader"),
            "sentences": hashlib.sha256("\n".join(harvard_sentences()).encode()).hexdigest(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _inventory(root: Path) -> dict[str, int]:
    """Count and total size of the corpus files: a missing or truncated file changes them."""
    files = [*root.glob("*.jsonl"), *root.glob("wav/*/*.wav"), *root.glob("wav/*/*.phn")]
    return {"files": len(files), "bytes": sum(f.stat().st_size for f in files)}


def _stamp(root: Path, key: str) -> str:
    return json.dumps({"key": key, **_inventory(root)}, sort_keys=True) + "\n"


def _cache_is_complete(out_dir: Path, key: str) -> bool:
    stamp = out_dir / STAMP_NAME
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == _stamp(out_dir, key)


def _validate(cfg: SynthConfig, n_sentences: int) -> None:
    if not 2 <= cfg.eval_sentences <= n_sentences // 2:
        raise SynthError(f"data.synth.eval_sentences must be in 2..{n_sentences // 2}, "
                         f"got {cfg.eval_sentences}")
    limits = {"sentences_per_train_voice": n_sentences - cfg.eval_sentences // 2 * 2,
              "sentences_per_eval_voice": cfg.eval_sentences // 2}
    for name, limit in limits.items():
        value = getattr(cfg, name)
        if not 1 <= value <= limit:
            raise SynthError(f"data.synth.{name} must be in 1..{limit}, got {value}")
    if cfg.sample_rate < 8000:
        raise SynthError(f"data.synth.sample_rate must be >= 8000, got {cfg.sample_rate}")
    if cfg.noise_std < 0:
        raise SynthError(f"data.synth.noise_std must be >= 0, got {cfg.noise_std}")
    if cfg.workers < 1:
        raise SynthError(f"data.synth.workers must be >= 1, got {cfg.workers}")


def sentence_pools(cfg: SynthConfig, n_sentences: int) -> dict[str, list[int]]:
    """Disjoint sentence indices per split: dev and test read sentences train never hears."""
    order = np.random.default_rng([cfg.seed, n_sentences]).permutation(n_sentences).tolist()
    half = cfg.eval_sentences // 2
    return {"dev": order[:half], "test": order[half : 2 * half], "train": order[2 * half :]}


def _jobs(cfg: SynthConfig, plan: dict[str, list[Speaker]], tmp: Path) -> dict[str, list[_Job]]:
    sentences = harvard_sentences()
    pools = sentence_pools(cfg, len(sentences))
    jobs: dict[str, list[_Job]] = {}
    for split, speakers in plan.items():
        per_voice = (
            cfg.sentences_per_train_voice if split == "train" else cfg.sentences_per_eval_voice
        )
        pool = pools[split]
        jobs[split] = []
        for speaker in speakers:
            index = CATALOG.index((speaker.accent, speaker.variant))
            # Stream 720 is apart from the per-utterance ones, keyed by sentence index 0..719.
            rng = np.random.default_rng([cfg.seed, index, len(sentences)])
            chosen = sorted(pool[i] for i in rng.choice(len(pool), per_voice, replace=False))
            jobs[split].append(
                _Job(
                    speaker=speaker,
                    catalog_index=index,
                    sentences=tuple((i, sentences[i]) for i in chosen),
                    out_dir=str(tmp),
                    seed=cfg.seed,
                    sample_rate=cfg.sample_rate,
                    noise_std=cfg.noise_std,
                )
            )
    return jobs


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Put the finished ``tmp`` at ``out_dir``, removing an old corpus there."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        out_dir.rename(old / out_dir.name)
        tmp.rename(out_dir)
        shutil.rmtree(old)
    else:
        tmp.rename(out_dir)


def prepare_synth(cfg: SynthConfig, out_dir: str | Path, force: bool = False) -> Path:
    """Build (or reuse) the synthetic corpus in ``out_dir``; returns ``out_dir``.

    A corpus is reused only when its stamp (``.complete``: config hash, file count and bytes)
    matches; otherwise it is rebuilt in a temporary folder beside ``out_dir`` and moved in.
    Synthesis runs in worker processes, so scripts must call this under
    ``if __name__ == "__main__":``.
    """
    out_dir = Path(out_dir).resolve()
    key = _cache_key(cfg)
    if not force and _cache_is_complete(out_dir, key):
        log.info("synth corpus up to date in %s", out_dir)
        return out_dir

    _validate(cfg, len(harvard_sentences()))
    plan = plan_speakers(cfg)
    began = time.perf_counter()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        jobs = _jobs(cfg, plan, tmp)
        ordered = sorted(
            (job for split_jobs in jobs.values() for job in split_jobs),
            key=lambda job: -len(job.sentences),  # long jobs first balances the workers
        )
        # eSpeak keeps state that even espeak_Terminate does not reset, so each speaker gets a
        # fresh process (maxtasksperchild=1) forked from a server that never loaded eSpeak.
        # The server imports the main module once, so each fork does not re-import it.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", __name__])
        done: dict[str, list[Utterance]] = {}
        total = sum(len(job.sentences) for job in ordered)
        with (
            context.Pool(min(cfg.workers, len(ordered)), maxtasksperchild=1) as pool,
            tqdm(total=total, desc="synth", unit="utt", disable=None) as progress,
        ):
            for utterances in pool.imap_unordered(_synth_speaker, ordered):
                done[utterances[0].speaker] = utterances
                progress.update(len(utterances))

        splits = {s: [u for job in jobs[s] for u in done[job.speaker.name]] for s in SPLITS}
        check_splits(splits, f"synth corpus {out_dir}")
        write_splits(tmp, splits)
        (tmp / STAMP_NAME).write_text(_stamp(tmp, key), encoding="utf-8")
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    hours = sum(u.duration or 0.0 for us in done.values() for u in us) / 3600
    counts = {split: sum(len(job.sentences) for job in jobs[split]) for split in SPLITS}
    log.info(
        "synth corpus: %.2f h in %.1f s; utterances %s; speakers %s -> %s",
        hours,
        time.perf_counter() - began,
        "/".join(f"{s} {counts[s]}" for s in SPLITS),
        "/".join(f"{s} {len(plan[s])}" for s in SPLITS),
        out_dir,
    )
    return out_dir
