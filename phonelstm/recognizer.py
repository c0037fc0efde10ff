"""Python API for decoding: ``Recognizer.from_checkpoint(path).transcribe(audio_or_path)``.

Times. Output frame ``j`` of a model stands for the feature frames it stacks; a run of
output frames ``[s, e)`` is turned into seconds at the midpoints between frame centres:
``start = centre(s) - step / 2``, ``end = centre(e - 1) + step / 2`` (``step`` = seconds per
output frame; frame 0 starts at 0), clipped to the audio. The runs come from
- CTC models: each phone's first emission frame (its spike) up to the next phone's spike
  (``decoding.spans``); leading and trailing blank frames belong to no phone;
- framewise models: runs of the same per-frame argmax;
- forced alignment (``align``): ``torchaudio.functional.forced_align``'s frames of each
  phone, extended up to the next phone's first frame.

Long recordings (longer than ``chunk_seconds``) run through the model in windows of
``chunk_seconds`` with ``context_seconds`` of audio on each side whose outputs are dropped,
so memory stays bounded and frame times stay those of the whole recording.

Many recordings (``decode_utterances``) run shortest first in padded batches.
``log_posteriors`` is the one step from features to log posteriors, shared with
``phonelstm.scoring`` (data loaders' batches, for training and the scripts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from torch import Tensor, nn
from tqdm import tqdm

from phonelstm import pretrained
from phonelstm.audio import load_audio
from phonelstm.checkpoint import CheckpointError, load_checkpoint, restore
from phonelstm.config import FeatureConfig
from phonelstm.data.manifest import Utterance
from phonelstm.decoding import ctc_decode, nonblank_last_frame, spans
from phonelstm.errors import PhonelstmError
from phonelstm.features import (
    Normalizer,
    frame_params,
    normalize,
    num_frames,
)


class AlignmentError(PhonelstmError):
    """A transcript cannot be aligned to its audio (unknown phone, audio too short)."""


@dataclass
class Phone:
    phone: str
    start: float  # seconds
    end: float  # seconds
    posterior: float  # the model's mean probability of this phone over its frames (CTC: spike)


@dataclass
class Result:
    id: str
    audio: str
    duration: float  # seconds
    phones: list[Phone]
    log_posteriors: np.ndarray | None = None  # (T, C) float32, kept for ``posteriors`` only


@torch.no_grad()
def log_posteriors(model: nn.Module, feats: Tensor, lengths: Tensor,
                   normalizer: Normalizer | None, cfg: FeatureConfig) -> tuple[Tensor, Tensor]:
    """Un-normalised features ``(B, T, F)`` -> fp32 log posteriors ``(B, T', C)`` and their
    lengths ``(B,)``."""
    logits, out_lengths = model(normalize(feats, lengths, normalizer, cfg), lengths)
    return logits.float().log_softmax(-1), out_lengths


class Recognizer:
    """A trained model ready to turn audio into timed phones and frame posteriors."""

    def __init__(self, ckpt: dict, device: str | torch.device = "cpu", beam: int = 1,
                 chunk_seconds: float = 30.0, context_seconds: float = 2.0) -> None:
        self.device = torch.device(device)
        self.config, self.vocab, self.model, self.extractor, self.normalizer = restore(
            ckpt, self.device)
        self.task = self.config.trainer.task
        if (self.task == "ctc") != self.vocab.has_blank:
            raise CheckpointError(
                f"{ckpt.get('path', 'checkpoint')} (phonelstm {ckpt.get('version', '?')}): "
                f"trainer.task={self.task!r} does not match its vocabulary (blank: "
                f"{self.vocab.has_blank})")
        self.beam = beam
        self.chunk_seconds = chunk_seconds
        self.context_seconds = context_seconds

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", beam: int = 1,
                        chunk_seconds: float = 30.0, context_seconds: float = 2.0) -> Recognizer:
        return cls(load_checkpoint(path, device), device, beam, chunk_seconds, context_seconds)

    @classmethod
    def from_pretrained(cls, device: str = "cpu", beam: int = 1, **kwargs: float) -> Recognizer:
        """The shipped English phone recogniser (``phonelstm/pretrained/MODEL_CARD.md``)."""
        return cls.from_checkpoint(pretrained.MODEL, device, beam, **kwargs)

    @property
    def sample_rate(self) -> int:
        return self.config.features.sample_rate

    @property
    def frame_seconds(self) -> float:
        """Duration of one model output frame (feature hop times frame stacking)."""
        _, hop = frame_params(self.config.features)
        return hop * self.config.model.stack_frames / self.sample_rate

    def load(self, audio: str | Path | Tensor | Utterance) -> Tensor:
        """A path, a manifest utterance (its span and channel of the file) or a mono waveform
        -> mono float32 ``(N,)`` at the model's sample rate."""
        if isinstance(audio, Utterance):
            return audio.load(self.sample_rate)
        return audio if isinstance(audio, Tensor) else load_audio(audio, self.sample_rate)

    @torch.no_grad()
    def log_posteriors_batch(self, waves: list[Tensor], stats: Normalizer | None = None
                             ) -> list[Tensor]:
        """Log posteriors ``(T'_i, C)`` (on the CPU) of each waveform, run as one padded batch.

        ``stats``: normalise with these statistics instead of the configured normalisation
        (a long recording's own, for ``features.normalize=utterance``)."""
        lengths = torch.tensor([len(w) for w in waves], device=self.device)
        wave = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True).to(self.device)  # (B, N)
        feats, frames = self.extractor(wave, lengths)  # (B, T, F)
        cfg = replace(self.config.features, normalize="global") if stats else self.config.features
        log_probs, out_lengths = log_posteriors(self.model, feats, frames,
                                                stats or self.normalizer, cfg)  # (B, T', C)
        log_probs = log_probs.cpu()
        return [log_probs[b, : int(n)] for b, n in enumerate(out_lengths)]

    def is_long(self, num_samples: int) -> bool:
        """Whether a recording runs through the model alone and in windows."""
        return num_samples > self.chunk_seconds * self.sample_rate

    def log_posteriors(self, audio: str | Path | Tensor) -> Tensor:
        """Per-frame log posteriors ``(T', C)`` of one recording, in windows when it is long."""
        wave = self.load(audio)
        if not self.is_long(len(wave)):
            return self.log_posteriors_batch([wave])[0]
        win, hop = frame_params(self.config.features)
        unit = hop * self.config.model.stack_frames  # samples per output frame
        chunk = max(round(self.chunk_seconds * self.sample_rate / unit), 1)  # output frames
        k = self.config.model.stack_frames
        total = -(-int(num_frames(len(wave), self.config.features)) // k)  # output frames
        context = round(self.context_seconds * self.sample_rate / unit)
        # per-utterance normalisation: the whole recording's statistics, not each window's
        stats = (self._recording_stats(wave, chunk * unit)
                 if self.config.features.normalize == "utterance" else None)
        pieces = []
        for start in tqdm(range(0, total, chunk), desc="windows", unit="window", leave=False,
                          disable=None):
            first, last = max(start - context, 0), min(start + chunk + context, total)
            # samples for feature frames first*k .. last*k - 1 (fewer at the recording's end)
            segment = wave[first * unit: (last * k - 1) * hop + win]
            out = self.log_posteriors_batch([segment], stats)[0]
            pieces.append(out[start - first: start - first + min(chunk, total - start)])
        return torch.cat(pieces)  # (T', C)

    @torch.no_grad()
    def _recording_stats(self, wave: Tensor, step: int) -> Normalizer:
        """Feature mean and deviation of a whole recording, accumulated ``step`` samples at a
        time (whole frames: only the deltas at the pieces' edges see replicated frames)."""
        win, _ = frame_params(self.config.features)
        stats = Normalizer(self.extractor.dim).to(self.device)
        for start in range(0, len(wave) - win + 1, step):
            piece = wave[start: start + step + win - 1].to(self.device)[None]  # (1, N)
            stats.accumulate(*self.extractor(piece, torch.tensor([piece.shape[1]],
                                                                 device=self.device)))
        return stats

    def frame_centre(self, frame: int) -> float:
        """Seconds at the centre of output frame ``frame`` (the middle of its stacked frames)."""
        win, hop = frame_params(self.config.features)
        k = self.config.model.stack_frames
        return (frame * k * hop + (k - 1) * hop / 2 + win / 2) / self.sample_rate

    def _seconds(self, begin: int, end: int, duration: float) -> tuple[float, float]:
        """Frame run ``[begin, end)`` -> (start, end) seconds; see the module docstring."""
        def boundary(frame: int) -> float:  # midway between frames frame - 1 and frame
            time = self.frame_centre(frame) - self.frame_seconds / 2 if frame else 0.0
            return min(round(max(time, 0.0), 3), duration)
        return boundary(begin), boundary(end)

    def phones_from(self, log_probs: Tensor, duration: float) -> list[Phone]:
        """Timed phones from one recording's log posteriors ``(T', C)``."""
        probs = log_probs.exp()
        if self.task == "framewise":
            best = log_probs.argmax(-1).tolist()
            runs, begin = [], 0
            for t in range(1, len(best) + 1):
                if t == len(best) or best[t] != best[begin]:
                    runs.append((best[begin], begin, t))
                    begin = t
            return [Phone(self.vocab.symbols[i], *self._seconds(s, e, duration),
                          round(float(probs[s:e, i].mean()), 4)) for i, s, e in runs]
        hyp = ctc_decode(log_probs.unsqueeze(0), torch.tensor([len(log_probs)]), self.beam)[0]
        last = nonblank_last_frame(log_probs, len(log_probs))
        return [Phone(self.vocab.symbols[i], *self._seconds(s, e, duration),
                      round(float(probs[s, i]), 4))
                for i, (s, e) in zip(hyp.ids, spans(hyp.frames, last), strict=True)]

    def align_from(self, log_probs: Tensor, phones: list[str], duration: float) -> list[Phone]:
        """Forced alignment of ``phones`` to one recording's log posteriors ``(T', C)``.

        Framewise models have no blank: a blank column of (nearly) zero probability is
        added, so the alignment is the best segmentation into contiguous runs, in order.
        """
        if not phones:
            return []
        try:
            ids = self.vocab.encode(phones)
        except PhonelstmError as err:
            raise AlignmentError(f"cannot align: {err}") from None
        if self.task == "framewise":
            blank = torch.full((len(log_probs), 1), -1e4)
            log_probs = torch.cat([blank, log_probs], dim=1)
            ids = [i + 1 for i in ids]
        repeats = sum(a == b for a, b in zip(ids, ids[1:], strict=False))
        if len(log_probs) < len(ids) + repeats:
            raise AlignmentError(f"cannot align {len(ids)} phones to {len(log_probs)} frames "
                                 f"({duration:.2f} s of audio)")
        targets = torch.tensor([ids], dtype=torch.int32)
        labels, scores = AF.forced_align(log_probs.unsqueeze(0).float(), targets, blank=0)
        token_spans = AF.merge_tokens(labels[0], scores[0].exp())
        ends = [s.start for s in token_spans[1:]] + [token_spans[-1].end]
        return [Phone(p, *self._seconds(s.start, e, duration), round(float(s.score), 4))
                for p, s, e in zip(phones, token_spans, ends, strict=True)]

    def transcribe(self, audio: str | Path | Tensor) -> list[Phone]:
        """Phones with start/end times for one recording (a path or a mono 1-D waveform)."""
        wave = self.load(audio)
        return self.phones_from(self.log_posteriors(wave), len(wave) / self.sample_rate)

    def align(self, audio: str | Path | Tensor, phones: list[str]) -> list[Phone]:
        """Phones of a known transcript with their times in the recording."""
        wave = self.load(audio)
        return self.align_from(self.log_posteriors(wave), phones, len(wave) / self.sample_rate)

    def decode_utterances(self, utts: Sequence[Utterance], align: bool = False,
                          batch_seconds: float = 600.0, keep_posteriors: bool = False,
                          progress: bool = True) -> tuple[list[Result], dict[str, str]]:
        """Decode recordings shortest first in padded batches of at most ``batch_seconds``.

        Long recordings (``is_long``) run alone, in windows. Returns the results in input
        order and ``{audio path: error}`` for recordings that failed.
        """
        durations = [_duration(u) for u in utts]
        order = sorted(range(len(utts)), key=durations.__getitem__)
        win, _ = frame_params(self.config.features)
        results: dict[int, Result] = {}
        failed: dict[str, str] = {}
        batch: list[tuple[int, Tensor]] = []
        bar = tqdm(total=len(utts), unit="file", desc="decode", disable=None if progress else True)

        def finish(items: list[tuple[int, Tensor]], log_probs: list[Tensor]) -> None:
            for (i, wave), lp in zip(items, log_probs, strict=True):
                bar.update()
                utt, duration = utts[i], len(wave) / self.sample_rate
                try:
                    phones = (self.align_from(lp, utt.phones, duration) if align
                              else self.phones_from(lp, duration))
                except PhonelstmError as err:
                    failed[utt.audio] = str(err)
                    continue
                results[i] = Result(utt.id, utt.audio, duration, phones,
                                    lp.numpy() if keep_posteriors else None)

        def flush() -> None:
            if batch:
                finish(batch, self.log_posteriors_batch([w for _, w in batch]))
                batch.clear()

        for i in order:
            try:
                wave = self.load(utts[i])
            except PhonelstmError as err:
                failed[utts[i].audio] = str(err)
                bar.update()
                continue
            if len(wave) < win:
                failed[utts[i].audio] = f"{utts[i].audio}: audio shorter than one analysis window"
                bar.update()
            elif self.is_long(len(wave)):
                finish([(i, wave)], [self.log_posteriors(wave)])
            else:
                if batch and len(wave) * (len(batch) + 1) > batch_seconds * self.sample_rate:
                    flush()
                batch.append((i, wave))
        flush()
        bar.close()
        return [results[i] for i in sorted(results)], failed


def _duration(utt: Utterance) -> float:
    if utt.duration is not None:
        return utt.duration
    try:
        info = sf.info(utt.audio)
    except (sf.LibsndfileError, RuntimeError):
        return 0.0  # unreadable: found (and reported) when the audio is loaded
    return info.frames / info.samplerate
