"""The one place that reads audio: wav/flac/ogg and NIST SPHERE through soundfile.

Everything comes out as mono float32 in [-1, 1] at the requested sample rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from phonelstm.errors import PhonelstmError


class AudioError(PhonelstmError):
    """An audio file cannot be used; the message names the file and the problem."""


def load_audio(path: str | Path, sample_rate: int = 16000) -> torch.Tensor:
    """Read ``path`` as a mono float32 tensor ``(N,)`` at ``sample_rate``."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (N, C)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: cannot read audio ({err})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio is empty")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    wave = torch.from_numpy(data.mean(axis=1))  # mono mixdown, (N,)
    if not wave.abs().max() > 0:
        raise AudioError(f"{path}: audio is all zeros")
    if rate != sample_rate:
        wave = AF.resample(wave, rate, sample_rate)
    return wave.contiguous()
