"""Waveform augmentation of training batches, on the training device.

Each kind is off by default and switched on by ``data.augment.*`` (``AugmentConfig``):

- ``gain_db``: every utterance scaled by a random gain, uniform in ``+-gain_db`` dB (no
  clipping: features are computed from the float waveform, so a gain is what a quieter or
  louder microphone gives);
- ``speeds``: one speed factor per batch drawn from the list (Kaldi's and ESPnet's
  ``0.9 1.0 1.1``), applied by resampling as ``sox speed`` does (pitch and tempo change
  together); lengths and frame labels follow, CTC targets are unchanged;
- ``noise_prob``: that share of utterances gets additive noise at a signal-to-noise ratio
  uniform in ``snr_db``: white, pink (1/f) or babble (the other utterances of the batch,
  rolled in time), one kind per utterance;
- ``reverb_prob``: convolution with a synthetic room impulse response (a direct path, then
  exponentially decaying Gaussian noise with a reverberation time uniform in ``rt60``;
  Lehmann & Johansson's "diffuse tail" model), normalised to the direct path;
- ``telephone_prob``: band limitation: nothing above an upper band edge uniform in
  ``telephone_hz`` survives (4000 Hz: an 8 kHz telephone line; lower: a narrower
  microphone or codec), a low-pass with a 250 Hz raised-cosine roll-off, applied in the
  frequency domain;
- ``trim_prob``: that share of utterances loses a random part of its leading and trailing
  silence (each cut point uniform between the recording's edge and the first or last frame
  within ``trim_db`` of the loudest, in whole frames), down to none: speech recorded as tightly
  trimmed clips (FSDD's) then decodes like speech with pauses around it; frame labels follow;
- ``vtlp``: vocal tract length perturbation (Jaitly & Hinton 2013): each utterance's mel
  filters are built on frequencies warped by a factor uniform in ``1 +- vtlp`` (their 0.1),
  a voice with a shorter or longer vocal tract; drawn here, applied by the features.

Random draws come from torch's global generators (CPU for the batch's speed factor, drawn on
the host so static batch shapes are known without a device sync, and for the VTLP factors,
which build filters on the host; the device's for the rest), whose states every checkpoint
keeps, so a resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torchaudio.functional as AF
from torch import Tensor

from phonelstm.batch import Batch
from phonelstm.config import AugmentConfig, FeatureConfig
from phonelstm.errors import PhonelstmError
from phonelstm.features import frame_params, num_frames
from phonelstm.losses import IGNORE

ROLL_OFF_HZ = 250.0


class AugmentError(PhonelstmError):
    """An invalid ``data.augment.*`` setting."""


def check_augment(cfg: AugmentConfig) -> None:
    if cfg.gain_db < 0:
        raise AugmentError(f"data.augment.gain_db must be >= 0, got {cfg.gain_db}")
    if any(not 0.5 <= s <= 2.0 for s in cfg.speeds):
        raise AugmentError(f"data.augment.speeds must lie in [0.5, 2], got {cfg.speeds}")
    for key in ("noise_prob", "reverb_prob", "telephone_prob", "trim_prob"):
        if not 0.0 <= getattr(cfg, key) <= 1.0:
            raise AugmentError(f"data.augment.{key} must be in [0, 1], got {getattr(cfg, key)}")
    for key in ("snr_db", "rt60", "telephone_hz"):
        low_high = getattr(cfg, key)
        if len(low_high) != 2 or low_high[0] > low_high[1]:
            raise AugmentError(f"data.augment.{key} must be [low, high], got {low_high}")
    if not 0.0 <= cfg.vtlp < 0.5:
        raise AugmentError(f"data.augment.vtlp must be in [0, 0.5), got {cfg.vtlp}")
    if cfg.trim_db <= 0:
        raise AugmentError(f"data.augment.trim_db must be > 0, got {cfg.trim_db}")
    if cfg.telephone_hz[0] <= ROLL_OFF_HZ:
        raise AugmentError(f"data.augment.telephone_hz must lie above {ROLL_OFF_HZ:g} Hz, "
                           f"got {cfg.telephone_hz}")


def enabled(cfg: AugmentConfig) -> bool:
    return bool(cfg.gain_db or cfg.speeds or cfg.noise_prob or cfg.reverb_prob or cfg.vtlp
                or cfg.telephone_prob or cfg.trim_prob)


class WaveAugment:
    """``augment(batch) -> batch`` with its waveforms (and frame labels) augmented."""

    def __init__(self, cfg: AugmentConfig, features: FeatureConfig) -> None:
        check_augment(cfg)
        self.cfg = cfg
        self.features = features

    def draw_speed(self) -> float:
        """The next batch's speed factor (host RNG: no device sync); 1.0 when off."""
        if not self.cfg.speeds:
            return 1.0
        return float(self.cfg.speeds[int(torch.randint(len(self.cfg.speeds), ()))])

    def __call__(self, batch: Batch, speed: float = 1.0) -> Batch:
        if batch.wave is None:
            raise AugmentError("data.augment needs waveforms: set features.cache=false")
        wave, lengths = batch.wave, batch.wave_lengths  # (B, N), (B,)
        labels = batch.frame_labels
        if self.cfg.trim_prob:
            wave, lengths, labels = trim_silence(wave, lengths, labels, self.cfg.trim_prob,
                                                 self.cfg.trim_db, self.features)
        if speed != 1.0:
            trimmed = lengths
            wave, lengths = change_speed(wave, lengths, speed)
            if labels is not None:
                labels = stretch_labels(labels, trimmed, lengths, speed, self.features)
        valid = _valid(lengths, wave.shape[1])  # (B, N)
        if self.cfg.telephone_prob:
            low, high = self.cfg.telephone_hz
            edges = low + (high - low) * torch.rand(len(wave), device=wave.device)  # (B,) Hz
            wave = self._where(self.cfg.telephone_prob,
                               telephone(wave, self.features.sample_rate, edges), wave)
        if self.cfg.reverb_prob:
            rooms = room_responses(len(wave), self.cfg.rt60, self.features.sample_rate,
                                   wave.device)
            wave = self._where(self.cfg.reverb_prob, reverberate(wave, rooms) * valid, wave)
        if self.cfg.noise_prob:
            noisy = add_noise(wave, valid, self.cfg.snr_db)
            wave = self._where(self.cfg.noise_prob, noisy, wave)
        if self.cfg.gain_db:
            db = (torch.rand(len(wave), device=wave.device) * 2 - 1) * self.cfg.gain_db  # (B,)
            wave = wave * (10.0 ** (db / 20)).unsqueeze(1)
        warp = (1.0 + (torch.rand(len(wave)) * 2 - 1) * self.cfg.vtlp  # (B,) on the host
                if self.cfg.vtlp else None)
        return replace(batch, wave=wave * valid, wave_lengths=lengths, frame_labels=labels,
                       warp=warp)

    @staticmethod
    def _where(prob: float, changed: Tensor, wave: Tensor) -> Tensor:
        """Per utterance, ``changed`` with probability ``prob``, else ``wave``."""
        chosen = torch.rand(len(wave), device=wave.device) < prob  # (B,)
        return torch.where(chosen.unsqueeze(1), changed, wave)


def _valid(lengths: Tensor, total: int) -> Tensor:
    """``(B, total)`` float mask of each row's valid samples."""
    return (torch.arange(total, device=lengths.device) < lengths.unsqueeze(1)).float()


def trim_silence(wave: Tensor, lengths: Tensor, labels: Tensor | None, prob: float,
                 silence_db: float, features: FeatureConfig
                 ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Cut a random part of the leading and trailing silence of a ``prob`` share of the rows
    of ``wave: (B, N)``; the kept audio starts at sample 0 of the same padded width (no new
    shapes) and frame labels ``(B, T)`` move with it. Silence: the hop-long frames more than
    ``silence_db`` below the row's loudest; each cut falls on a frame boundary between the
    recording's edge and its first (last) frame of speech."""
    win, hop = frame_params(features)
    B, N = wave.shape
    T = N // hop
    power = wave[:, :T * hop].reshape(B, T, hop).pow(2).mean(-1)  # (B, T)
    full = lengths // hop  # (B,) whole frames in each row
    t = torch.arange(T, device=wave.device)
    inside = t < full.unsqueeze(1)  # (B, T)
    db = 10 * power.clamp_min(1e-20).log10()
    loudest = db.masked_fill(~inside, -math.inf).amax(1, keepdim=True)  # (B, 1)
    speech = inside & (db > loudest - silence_db)  # (B, T)
    first = torch.where(speech, t, T).amin(1)  # (B,) first frame of speech
    last = torch.where(speech, t + 1, 0).amax(1)  # (B,) one past its last frame
    chosen = (torch.rand(B, device=wave.device) < prob) & (last > first)
    u = torch.rand(2, B, device=wave.device)
    start = torch.where(chosen, (u[0] * (first + 1)).long().clamp_max(first), 0)  # (B,) frames
    end = (last + (u[1] * (full - last + 1)).long()).clamp(max=full)  # (B,) frames
    # at least one window of audio; the part of the last frame past ``full`` stays if uncut
    end_sample = torch.where(chosen, (end * hop).clamp_min(start * hop + win), lengths)
    new_lengths = end_sample.clamp_max(lengths) - start * hop  # (B,)
    source = (start * hop).unsqueeze(1) + torch.arange(N, device=wave.device)  # (B, N)
    out = wave.gather(1, source.clamp_max(N - 1)) * _valid(new_lengths, N)
    if labels is not None:
        L = labels.shape[1]
        tl = torch.arange(L, device=labels.device)
        moved = labels.gather(1, (start.unsqueeze(1) + tl).clamp_max(L - 1))  # (B, L)
        labels = moved.masked_fill(~(tl < num_frames(new_lengths, features).unsqueeze(1)),
                                   IGNORE)
    return out, new_lengths, labels


def change_speed(wave: Tensor, lengths: Tensor, speed: float) -> tuple[Tensor, Tensor]:
    """Play ``wave: (B, N)`` ``speed`` times faster (shorter for ``speed > 1``), as ``sox
    speed``: resample by ``1 / speed`` and keep the sample rate."""
    orig, new = round(speed * 100), 100
    gcd = math.gcd(orig, new)
    out = AF.resample(wave, orig // gcd, new // gcd)  # (B, ~N / speed)
    new_lengths = torch.ceil(lengths.double() / speed).long().clamp_max(out.shape[1])
    return out * _valid(new_lengths, out.shape[1]), new_lengths


def stretch_labels(labels: Tensor, old_lengths: Tensor, new_lengths: Tensor, speed: float,
                   cfg: FeatureConfig) -> Tensor:
    """Frame labels ``(B, T)`` of the original audio -> those of the speed-changed audio:
    each new frame takes the label of the old frame whose centre sample it plays."""
    win, hop = frame_params(cfg)
    old_frames = num_frames(old_lengths, cfg)  # (B,)
    frames = num_frames(new_lengths, cfg)  # (B,)
    T = int(frames.max())
    t = torch.arange(T, device=labels.device, dtype=torch.float64)
    source = torch.round((t * hop + win / 2) * speed / hop - win / (2 * hop)).long()  # (T,)
    source = torch.minimum(source.unsqueeze(0), (old_frames - 1).clamp_min(0).unsqueeze(1))
    out = labels.gather(1, source.clamp_min(0))  # (B, T)
    return out.masked_fill(~(t.unsqueeze(0) < frames.unsqueeze(1)), IGNORE)


def telephone(wave: Tensor, sample_rate: int, edges: Tensor) -> Tensor:
    """``wave: (B, N)`` with nothing above each row's band edge ``edges: (B,)`` Hz (a raised
    cosine roll-off over the ``ROLL_OFF_HZ`` below it)."""
    B, N = wave.shape
    n = N + sample_rate // 100  # 10 ms of zeros: the filter's response does not wrap around
    spectrum = torch.fft.rfft(wave, n=n)  # (B, F)
    f = torch.fft.rfftfreq(n, 1 / sample_rate).to(wave.device)  # (F,) Hz
    x = ((edges.unsqueeze(1) - f) / ROLL_OFF_HZ).clamp(0, 1)  # (B, F): 0 above the edge
    gain = 0.5 - 0.5 * torch.cos(math.pi * x)
    return torch.fft.irfft(spectrum * gain, n=n)[:, :N]


def room_responses(count: int, rt60: list[float], sample_rate: int,
                   device: torch.device) -> Tensor:
    """``(count, L)`` synthetic room impulse responses: a unit direct path, then a Gaussian
    tail decaying by 60 dB over a reverberation time uniform in ``rt60`` seconds."""
    low, high = rt60
    times = low + (high - low) * torch.rand(count, 1, device=device)  # (B, 1) seconds
    length = max(1, int(high * sample_rate))
    t = torch.arange(length, device=device) / sample_rate  # (L,)
    tail = torch.randn(count, length, device=device) * torch.exp(-6.908 * t / times)  # ln(1000)
    tail[:, 0] = 0.0
    level = 10 ** (-15 / 20) / tail.pow(2).sum(1, keepdim=True).sqrt().clamp_min(1e-8)
    rooms = tail * level  # reverberant energy 15 dB under the direct path
    rooms[:, 0] = 1.0
    return rooms


def reverberate(wave: Tensor, rooms: Tensor) -> Tensor:
    """Each row of ``wave: (B, N)`` convolved with its room ``(B, L)``, cut to ``N``."""
    return AF.fftconvolve(wave, rooms)[:, :wave.shape[1]]


def add_noise(wave: Tensor, valid: Tensor, snr_db: list[float]) -> Tensor:
    """``wave: (B, N)`` plus white, pink or babble noise at a random SNR per utterance."""
    B, N = wave.shape
    white = torch.randn(B, N, device=wave.device)
    spectrum = torch.fft.rfft(torch.randn(B, N, device=wave.device))
    f = torch.arange(spectrum.shape[1], device=wave.device).clamp_min(1)
    pink = torch.fft.irfft(spectrum / f.sqrt(), n=N)
    babble = sum(torch.roll(wave, shifts=(k, k * N // 3), dims=(0, 1)) for k in (1, 2))
    if B == 1:  # no other utterance to babble: white noise instead
        babble = white
    kinds = torch.stack([white, pink, babble])  # (3, B, N)
    kind = torch.randint(3, (B,), device=wave.device)  # (B,)
    noise = kinds.gather(0, kind.view(1, B, 1).expand(1, B, N))[0] * valid  # (B, N)
    low, high = snr_db
    snr = low + (high - low) * torch.rand(B, device=wave.device)  # (B,) dB
    count = valid.sum(1).clamp_min(1)
    signal_power = (wave * valid).pow(2).sum(1) / count
    noise_power = noise.pow(2).sum(1) / count
    scale = (signal_power / noise_power.clamp_min(1e-12) / 10 ** (snr / 10)).sqrt()
    return wave + noise * scale.unsqueeze(1)
