"""eSpeak NG through ctypes (``speak_lib.h``): synchronous synthesis with phoneme events.

Only the binding lives here; which voices speak and how their events become labels is decided
by ``plan`` and ``labels``.
"""

from __future__ import annotations

import ctypes

import numpy as np

from phonelstm.data.synth import SynthError

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


class Espeak:
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

    def set_voice(self, voice: str, rate: int, pitch: int, pitch_range: int) -> None:
        """Voice ``<accent>+<variant>``, rate in words per minute, pitch and range 0-100."""
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise SynthError(f"eSpeak NG has no voice {voice!r}")
        for param, value in (
            (_PARAM_RATE, rate),
            (_PARAM_PITCH, pitch),
            (_PARAM_RANGE, pitch_range),
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

