"""The one place that reads audio: wav/flac/ogg and NIST SPHERE through soundfile.

Everything comes out as mono float32 in [-1, 1] at the requested sample rate: channels are
averaged (or the requested ones picked), a requested span is read alone (an utterance cut from
a longer recording), and other rates are converted with ``torchaudio.functional.resample`` (windowed
sinc interpolation, the same code on CPU and GPU, no extra dependency).
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from phonelstm.errors import PhonelstmError

_SPHERE_MAGIC = b"NIST_1A"
_SPAN_TOLERANCE = 0.01  # seconds a span may run past the end (rounding of its times)
log = logging.getLogger("phonelstm.audio")


class AudioError(PhonelstmError):
    """An audio file cannot be used; the message names the file and the problem."""


def sphere_header(path: Path) -> dict[str, str]:
    """Fields of a NIST SPHERE header (``{}`` when ``path`` is not a SPHERE file)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head.startswith(_SPHERE_MAGIC):
        return {}
    fields = {}
    for line in head.decode("latin-1").splitlines()[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(None, 2)  # name -type value
        if len(parts) == 3:
            fields[parts[0]] = parts[2]
    return fields


def wav_shortfall(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` bytes of a RIFF WAV's data chunk when the file holds less than
    its header declares (a truncated copy or download); ``None`` otherwise. libsndfile reads
    such files without a word, so this is checked here."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while chunk := f.read(8):
            if len(chunk) < 8:
                return None
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                present = path.stat().st_size - f.tell()
                # 0 and 0xFFFFFFFF: streamed writers that never filled in the size
                return (size, present) if 0 < size < 0xFFFFFFFF and present < size else None
            f.seek(size + size % 2, 1)
    return None


def _read(path: Path, span: tuple[float, float] | None) -> tuple[np.ndarray, int]:
    """Samples ``(N, C)`` of the whole file or of ``span`` = (offset, duration) seconds."""
    with sf.SoundFile(str(path)) as f:
        if span is None:
            return f.read(dtype="float32", always_2d=True), f.samplerate
        start, count = round(span[0] * f.samplerate), round(span[1] * f.samplerate)
        if start + count > f.frames + _SPAN_TOLERANCE * f.samplerate:
            raise AudioError(f"{path}: the span {span[0]:.3f}+{span[1]:.3f} s runs past the end "
                             f"of the audio ({f.frames / f.samplerate:.3f} s)")
        f.seek(start)
        return f.read(count, dtype="float32", always_2d=True), f.samplerate


def load_audio(path: str | Path, sample_rate: int = 16000, min_samples: int = 0,
               span: tuple[float, float] | None = None,
               channel: int | list[int] | None = None) -> torch.Tensor:
    """Read ``path`` as a mono float32 tensor ``(N,)`` at ``sample_rate``.

    ``min_samples`` (e.g. one analysis window) makes shorter audio an error. ``span``:
    (offset, duration) seconds to read instead of the whole file; ``channel``: the channel
    index (or indices, averaged) to use instead of all of them.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    coding = sphere_header(path).get("sample_coding", "")
    if "shorten" in coding:
        raise AudioError(f"{path}: Shorten-compressed NIST SPHERE (sample_coding {coding}); "
                         "decompress it first, e.g. `sph2pipe -f wav in.sph out.wav`")
    try:
        data, rate = _read(path, span)  # (N, C)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: cannot read audio ({err})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    shortfall = wav_shortfall(path)
    if shortfall:
        declared, present = shortfall
        log.warning("%s: truncated WAV file: its header declares %.2f s of audio, the file "
                    "holds %.2f s; decoding what is there", path,
                    data.shape[0] / rate * declared / present, data.shape[0] / rate)
    if channel is not None:
        picked = channel if isinstance(channel, list) else [channel]
        if max(picked) >= data.shape[1]:
            raise AudioError(f"{path}: no channel {max(picked)} (the file has {data.shape[1]})")
        data = data[:, picked]
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    wave = torch.from_numpy(data.mean(axis=1))  # mono mixdown, (N,)
    if not wave.abs().max() > 0:
        raise AudioError(f"{path}: audio is all zeros (silent or blank recording)")
    if rate != sample_rate:
        wave = AF.resample(wave, rate, sample_rate)
    if len(wave) < min_samples:
        raise AudioError(f"{path}: audio too short: {len(wave)} samples at {sample_rate} Hz, "
                         f"one analysis window needs {min_samples}")
    return wave.clamp(-1.0, 1.0).contiguous()
