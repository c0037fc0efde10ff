"""Acoustic features, computed in batches on any device, and their normalisation.

Frame rule (the same for features, frame labels and decoded times everywhere):
with window ``W`` and hop ``H`` samples, an utterance of ``N >= W`` samples has
``T = 1 + (N - W) // H`` frames; frame ``t`` covers samples ``[t*H, t*H + W)`` and is
labelled with the phone at its centre sample ``t*H + W // 2``. Trailing samples that do
not fill a window are dropped (Kaldi's ``snip_edges``).

Pipelines (``FeatureConfig.kind``):
- ``fbank``: ``n_mels`` log mel filterbank channels + log energy (fbank-123 of Graves,
  Mohamed & Hinton 2013 with 40 mels and ``delta_order=2``);
- ``mfcc``: cepstra c1..c``n_ceps`` of the log mel spectrum + log energy (MFCC-26 of Graves &
  Schmidhuber 2005 with 12 cepstra and ``delta_order=1``);
then deltas of order ``delta_order`` over ``±delta_window`` frames (HTK regression formula).

The waveform (-1..1) is first multiplied by ``wave_scale``: 32768 gives it in 16-bit units,
as Kaldi reads audio, so the float32-epsilon log floor lies about 90 dB below full scale;
at 1 (the default, kept for the models trained with it) it lies only about 70 dB below
the loudest sample, and the quiet parts of a quiet recording are floored, which makes the
features depend on the recording level even after per-utterance normalisation.

Per frame: remove the DC offset; log energy of that frame; pre-emphasis (the first sample is
scaled by ``1 - preemphasis``); symmetric Hamming window; power spectrum of an FFT of the
next power of two (512 at 16 kHz); triangular filters from 20 Hz to Nyquist, equally spaced
and linear on the mel scale ``1127 ln(1 + f / 700)`` as HTK and Kaldi build them
(``mel_filters``; unnormalised); natural log floored at float32 epsilon, as Kaldi; for MFCC an
orthonormal DCT-II, keeping c1..cK. With dither off, both pipelines equal
``torchaudio.compliance.kaldi.fbank``/``mfcc`` on the same options (tested to 1e-3).

Backends (``FeatureConfig.backend``), numerically consistent (tested to 1e-3):
- ``torchaudio`` (default): batched torch ops on the waveforms' device (CPU or GPU), DCT
  matrix from ``torchaudio.functional``;
- ``librosa``: numpy per utterance on the CPU, framing through ``librosa.util.frame``, DCT
  through ``scipy.fft.dct``, deltas through ``librosa.feature.delta``; a reference
  implementation, results go back to the input device.
Both use the same mel filters (``mel_filters``): torchaudio's and librosa's own filters are
triangles linear in Hz between mel-spaced points, which moves log-mel values by up to 0.03.
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.fft
import torch
import torchaudio.functional as AF
from torch import Tensor, nn

from phonelstm.batch import Batch
from phonelstm.config import FeatureConfig
from phonelstm.errors import PhonelstmError

_LOG_FLOOR = float(np.finfo(np.float32).eps)  # what Kaldi floors its logs at
_FMIN = 20.0
BACKENDS = ("torchaudio", "librosa")


class FeatureError(PhonelstmError):
    """Audio too short for one frame, or an invalid feature configuration."""


def frame_params(cfg: FeatureConfig) -> tuple[int, int]:
    """Window and hop in samples."""
    return round(cfg.sample_rate * cfg.win_ms / 1000), round(cfg.sample_rate * cfg.hop_ms / 1000)


def num_frames(num_samples: int | Tensor, cfg: FeatureConfig) -> int | Tensor:
    """Frame count of an utterance (0 when shorter than one window); see the module rule."""
    win, hop = frame_params(cfg)
    if isinstance(num_samples, Tensor):
        return torch.where(num_samples >= win, 1 + (num_samples - win) // hop, 0)
    return 1 + (num_samples - win) // hop if num_samples >= win else 0


def fft_size(win: int) -> int:
    return 1 << (win - 1).bit_length()


def mel(freq: np.ndarray | float) -> np.ndarray | float:
    """The HTK/Kaldi mel scale."""
    return 1127.0 * np.log1p(np.asarray(freq) / 700.0)


def vtlp_warp(freq: np.ndarray, alpha: float, nyquist: float) -> np.ndarray:
    """Jaitly & Hinton's (2013) vocal tract length perturbation of frequencies (Hz): ``f ->
    alpha f`` up to ``f_hi min(alpha, 1) / alpha`` (``f_hi`` = 0.6 Nyquist, their 4.8 kHz at
    16 kHz), then the straight line to Nyquist, which stays where it is."""
    f_hi = 0.6 * nyquist * min(alpha, 1.0)
    cut = f_hi / alpha
    return np.where(freq <= cut, freq * alpha,
                    nyquist - (nyquist - f_hi) / (nyquist - cut) * (nyquist - freq))


def mel_filters(n_fft: int, n_mels: int, sample_rate: int, fmin: float = _FMIN,
                fmax: float | None = None, warp: float = 1.0) -> np.ndarray:
    """``(n_fft // 2 + 1, n_mels)`` triangular filter weights, linear on the mel scale.

    Filter ``m`` rises from mel point ``m`` to ``m + 1`` and falls to ``m + 2``, with
    ``n_mels + 2`` points equally spaced in mel from ``fmin`` to ``fmax`` (Nyquist by
    default); each FFT bin is weighted by where its mel value falls (Kaldi's ``MelBanks``),
    after ``vtlp_warp`` by ``warp`` when it is not 1.
    """
    points = np.linspace(mel(fmin), mel(fmax or sample_rate / 2), n_mels + 2)  # (M+2,)
    freq = np.arange(n_fft // 2 + 1) * sample_rate / n_fft  # (K,) Hz
    if warp != 1.0:
        freq = vtlp_warp(freq, warp, sample_rate / 2)
    bins = mel(freq)[:, None]  # (K, 1)
    left, centre, right = points[:-2], points[1:-1], points[2:]  # (M,) each
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)  # (K, M)


def static_dim(cfg: FeatureConfig) -> int:
    """Channels before deltas: mels or cepstra, plus log energy (the last one)."""
    return (cfg.n_mels if cfg.kind == "fbank" else cfg.n_ceps) + 1


def feature_dim(cfg: FeatureConfig) -> int:
    return static_dim(cfg) * (1 + cfg.delta_order)


class FeatureExtractor(nn.Module):
    """Waveforms ``(B, N)`` with lengths -> features ``(B, T, F)`` with frame lengths."""

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        if cfg.kind not in ("fbank", "mfcc"):
            raise FeatureError(f"features.kind must be 'fbank' or 'mfcc', got {cfg.kind!r}")
        if cfg.kind == "mfcc" and not 0 < cfg.n_ceps < cfg.n_mels:
            raise FeatureError(f"features.n_ceps must be in 1..{cfg.n_mels - 1}, got {cfg.n_ceps}")
        if cfg.backend not in BACKENDS:
            raise FeatureError(f"features.backend must be one of {', '.join(BACKENDS)}, "
                               f"got {cfg.backend!r}")
        self.cfg = cfg
        self.win, self.hop = frame_params(cfg)
        self.n_fft = fft_size(self.win)
        filters = mel_filters(self.n_fft, cfg.n_mels, cfg.sample_rate)
        self.register_buffer("mel", torch.from_numpy(filters), persistent=False)  # (K, M)
        self.register_buffer("window", torch.hamming_window(self.win, periodic=False),
                             persistent=False)
        if cfg.kind == "mfcc":
            dct = AF.create_dct(cfg.n_ceps + 1, cfg.n_mels, norm="ortho")[:, 1:]
            self.register_buffer("dct", dct, persistent=False)  # (n_mels, n_ceps)

    @property
    def dim(self) -> int:
        return feature_dim(self.cfg)

    def forward(self, wave: Tensor, lengths: Tensor, warp: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        # wave: (B, N) float32, lengths: (B,) samples, warp: (B,) VTLP factors on the host
        if wave.shape[-1] < self.win:
            raise FeatureError(
                f"audio of {wave.shape[-1]} samples is shorter than one "
                f"{self.cfg.win_ms:g} ms window ({self.win} samples)"
            )
        frame_lengths = num_frames(lengths, self.cfg)
        if self.cfg.backend == "librosa":
            if warp is not None:
                raise FeatureError("VTLP (data.augment.vtlp) needs features.backend=torchaudio")
            return self._librosa_batch(wave, lengths), frame_lengths
        frames = (wave * self.cfg.wave_scale).unfold(-1, self.win, self.hop)  # (B, T, W)
        frames = frames - frames.mean(-1, keepdim=True)  # remove DC per frame
        energy = frames.pow(2).sum(-1).clamp_min(_LOG_FLOOR).log()  # (B, T)
        if self.cfg.preemphasis:
            frames = torch.cat(
                [frames[..., :1] * (1 - self.cfg.preemphasis),
                 frames[..., 1:] - self.cfg.preemphasis * frames[..., :-1]], dim=-1,
            )
        spec = torch.fft.rfft(frames * self.window, n=self.n_fft).abs().pow(2)  # (B, T, K)
        logmel = (spec @ self._filters(warp)).clamp_min(_LOG_FLOOR).log()  # (B, T, n_mels)
        statics = logmel if self.cfg.kind == "fbank" else logmel @ self.dct
        feats = torch.cat([statics, energy.unsqueeze(-1)], dim=-1)  # (B, T, S)
        feats = add_deltas(feats, frame_lengths, self.cfg.delta_order, self.cfg.delta_window)
        return feats, frame_lengths  # (B, T, F), (B,)

    def _filters(self, warp: Tensor | None) -> Tensor:
        """The mel filters ``(K, M)``, or each utterance's VTLP-warped ones ``(B, K, M)``."""
        if warp is None:
            return self.mel
        filters = np.stack([mel_filters(self.n_fft, self.cfg.n_mels, self.cfg.sample_rate,
                                        warp=a) for a in warp.tolist()])  # (B, K, M)
        return torch.from_numpy(filters).to(self.mel.device, non_blocking=True)

    def _librosa_batch(self, wave: Tensor, lengths: Tensor) -> Tensor:
        """Per-utterance librosa features, zero-padded like the batched output ``(B, T, F)``."""
        out = wave.new_zeros(wave.shape[0], 1 + (wave.shape[-1] - self.win) // self.hop, self.dim)
        for i, n in enumerate(lengths.tolist()):
            feats = librosa_features(wave[i, :n].cpu().numpy(), self.cfg)  # (T_i, F)
            out[i, : len(feats)] = torch.from_numpy(feats).to(wave.device)
        return out


def librosa_features(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """One utterance ``(N,)`` -> features ``(T, F)`` with librosa/scipy (the reference backend)."""
    win, hop = frame_params(cfg)
    if len(wave) < win:
        return np.zeros((0, feature_dim(cfg)), dtype=np.float32)
    n_fft = fft_size(win)
    frames = librosa.util.frame(wave * np.float32(cfg.wave_scale), frame_length=win,
                                hop_length=hop, axis=0)  # (T, W)
    frames = frames - frames.mean(-1, keepdims=True)
    energy = np.log(np.maximum((frames**2).sum(-1), _LOG_FLOOR))  # (T,)
    if cfg.preemphasis:
        frames = np.concatenate([frames[:, :1] * (1 - cfg.preemphasis),
                                 frames[:, 1:] - cfg.preemphasis * frames[:, :-1]], axis=-1)
    window = np.hamming(win).astype(np.float32)  # symmetric, like the torch backend
    power = np.abs(np.fft.rfft(frames * window, n=n_fft)) ** 2  # (T, K)
    mels = (power @ mel_filters(n_fft, cfg.n_mels, cfg.sample_rate)).T  # (n_mels, T)
    logmel = np.log(np.maximum(mels, _LOG_FLOOR))
    if cfg.kind == "mfcc":
        logmel = scipy.fft.dct(logmel, type=2, norm="ortho", axis=0)[1 : cfg.n_ceps + 1]
    levels = [np.vstack([logmel, energy[None]])]  # (S, T)
    for _ in range(cfg.delta_order):
        levels.append(librosa.feature.delta(levels[-1], width=2 * cfg.delta_window + 1,
                                            order=1, axis=-1, mode="nearest"))
    return np.vstack(levels).T.astype(np.float32)  # (T, F)


def add_deltas(feats: Tensor, lengths: Tensor, order: int, window: int) -> Tensor:
    """Append ``order`` levels of HTK regression deltas, edges replicated per utterance.

    ``d_t = sum_{k=1..K} k (c_{t+k} - c_{t-k}) / (2 sum k^2)``; padding frames never leak in
    because each utterance's last valid frame is replicated past its end.
    """
    if order == 0:
        return feats
    T = feats.shape[1]
    # Index of the frame each position reads after edge replication: clamp into [0, len-1].
    idx = torch.arange(T, device=feats.device).unsqueeze(0)  # (1, T)
    last = (lengths.to(feats.device) - 1).clamp_min(0).unsqueeze(1)  # (B, 1)
    denom = 2 * sum(k * k for k in range(1, window + 1))
    levels = [feats]
    current = feats
    for _ in range(order):
        delta = torch.zeros_like(current)
        for k in range(1, window + 1):
            ahead = torch.minimum(idx + k, last).unsqueeze(-1).expand_as(current)
            behind = (idx - k).clamp_min(0).unsqueeze(-1).expand_as(current)
            delta += k * (current.gather(1, ahead) - current.gather(1, behind))
        current = delta / denom
        levels.append(current)
    return torch.cat(levels, dim=-1)


class SpecAugment(nn.Module):
    """Random time and channel masks (set to 0, the mean after normalisation), training only.

    A channel mask hides the same mel/cepstral channels in the statics and every delta level
    (log energy is never masked); a time mask lies inside the utterance's valid frames.
    """

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        self.cfg = cfg.specaugment
        self.statics = static_dim(cfg)

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        # feats: (B, T, F) normalised, lengths: (B,) frames
        if not self.training or not (self.cfg.time_masks or self.cfg.freq_masks):
            return feats
        B, T, F = feats.shape
        keep = torch.ones(B, T, 1, self.statics, dtype=torch.bool, device=feats.device)
        channels = torch.full((B,), self.statics - 1, device=feats.device)
        for _ in range(self.cfg.freq_masks):
            keep &= ~_band(self.statics, self.cfg.freq_width, channels)[:, None, None, :]
        for _ in range(self.cfg.time_masks):
            keep &= ~_band(T, self.cfg.time_width, lengths.to(feats.device))[:, :, None, None]
        return (feats.view(B, T, -1, self.statics) * keep).view(B, T, F)


def _band(size: int, max_width: int, limit: Tensor) -> Tensor:
    """A random band ``[start, start + w)`` inside ``[0, limit)`` per row -> ``(B, size)`` mask."""
    width = torch.minimum((torch.rand(limit.shape, device=limit.device) * (max_width + 1)).floor(),
                          limit)
    start = (torch.rand(limit.shape, device=limit.device) * (limit - width + 1)).floor()
    idx = torch.arange(size, device=limit.device)
    return (idx >= start[:, None]) & (idx < (start + width)[:, None])


class Normalizer(nn.Module):
    """Per-dimension mean/std, accumulated in one streaming pass over the training set."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("sum", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("sum_sq", torch.zeros(dim, dtype=torch.float64))

    def accumulate(self, feats: Tensor, lengths: Tensor) -> None:
        # feats: (B, T, F); only the valid frames count
        mask = torch.arange(feats.shape[1], device=feats.device) < lengths.unsqueeze(1)
        valid = feats[mask].double()  # (frames, F)
        self.count += valid.shape[0]
        self.sum += valid.sum(0).to(self.sum.device)
        self.sum_sq += valid.pow(2).sum(0).to(self.sum.device)

    @property
    def mean(self) -> Tensor:
        return (self.sum / self.count).float()

    @property
    def std(self) -> Tensor:
        var = self.sum_sq / self.count - (self.sum / self.count).pow(2)
        return var.clamp_min(1e-8).sqrt().float()

    def forward(self, feats: Tensor) -> Tensor:
        if self.count == 0:
            raise FeatureError("normalisation statistics are empty: accumulate training data first")
        return (feats - self.mean) / self.std


def normalize_utterances(feats: Tensor, lengths: Tensor) -> Tensor:
    """Per-utterance mean/variance normalisation over each utterance's valid frames."""
    mask = (torch.arange(feats.shape[1], device=feats.device) < lengths.unsqueeze(1)).unsqueeze(-1)
    n = lengths.clamp_min(1).view(-1, 1, 1).to(feats.dtype)
    mean = (feats * mask).sum(1, keepdim=True) / n
    var = ((feats - mean).pow(2) * mask).sum(1, keepdim=True) / n
    return (feats - mean) / var.clamp_min(1e-8).sqrt() * mask


def normalize(feats: Tensor, lengths: Tensor, normalizer: Normalizer | None,
              cfg: FeatureConfig) -> Tensor:
    """``FeatureConfig.normalize``: global statistics, per utterance, or none."""
    if cfg.normalize == "global" and normalizer is not None:
        return normalizer(feats)
    if cfg.normalize == "utterance":
        return normalize_utterances(feats, lengths)
    return feats


def raw_batch_features(batch: Batch, extractor: FeatureExtractor) -> tuple[Tensor, Tensor]:
    """Un-normalised features ``(B, T, F)`` and frame counts: cached ones, or extracted now."""
    if batch.feats is not None:
        return batch.feats, batch.feat_lengths
    return extractor(batch.wave, batch.wave_lengths, batch.warp)


def batch_features(batch: Batch, extractor: FeatureExtractor, normalizer: Normalizer | None,
                   cfg: FeatureConfig) -> tuple[Tensor, Tensor]:
    """Normalised features ``(B, T, F)`` and frame counts of a batch."""
    feats, lengths = raw_batch_features(batch, extractor)
    return normalize(feats, lengths, normalizer, cfg), lengths
