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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torchaudio.functional as AF
from torch import Tensor

from phonelstm.audio import load_audio
from phonelstm.checkpoint import CheckpointError, load_checkpoint, restore
from phonelstm.decoding import nonblank_last_frame, spans
from phonelstm.errors import PhonelstmError
from phonelstm.features import frame_params, num_frames
from phonelstm.inference import compute_features, decode_outputs


class AlignmentError(PhonelstmError):
    """A transcript cannot be aligned to its audio (unknown phone, audio too short)."""


@dataclass
class Phone:
    phone: str
    start: float  # seconds
    end: float  # seconds
    posterior: float  # the model's mean probability of this phone over its frames (CTC: spike)


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
                f"checkpoint written by phonelstm {ckpt.get('version', '?')}: trainer.task="
                f"{self.task!r} does not match its vocabulary (blank: {self.vocab.has_blank})")
        self.beam = beam
        self.chunk_seconds = chunk_seconds
        self.context_seconds = context_seconds

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", beam: int = 1,
                        chunk_seconds: float = 30.0, context_seconds: float = 2.0) -> Recognizer:
        return cls(load_checkpoint(path, device), device, beam, chunk_seconds, context_seconds)

    @property
    def sample_rate(self) -> int:
        return self.config.features.sample_rate

    @property
    def frame_seconds(self) -> float:
        """Duration of one model output frame (feature hop times frame stacking)."""
        _, hop = frame_params(self.config.features)
        return hop * self.config.model.stack_frames / self.sample_rate

    def load(self, audio: str | Path | Tensor) -> Tensor:
        """A path or a mono waveform -> mono float32 ``(N,)`` at the model's sample rate."""
        return audio if isinstance(audio, Tensor) else load_audio(audio, self.sample_rate)

    @torch.no_grad()
    def log_posteriors_batch(self, waves: list[Tensor]) -> list[Tensor]:
        """Log posteriors ``(T'_i, C)`` (on the CPU) of each waveform, run as one padded batch."""
        lengths = torch.tensor([len(w) for w in waves], device=self.device)
        wave = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True).to(self.device)  # (B, N)
        feats, frames = compute_features(wave, lengths, self.extractor, self.normalizer,
                                         self.config.features)  # (B, T, F)
        logits, out_lengths = self.model(feats, frames)  # (B, T', C)
        log_probs = logits.float().log_softmax(-1).cpu()
        return [log_probs[b, : int(n)] for b, n in enumerate(out_lengths)]

    def log_posteriors(self, audio: str | Path | Tensor) -> Tensor:
        """Per-frame log posteriors ``(T', C)`` of one recording, in windows when it is long."""
        wave = self.load(audio)
        win, hop = frame_params(self.config.features)
        unit = hop * self.config.model.stack_frames  # samples per output frame
        chunk = max(round(self.chunk_seconds * self.sample_rate / unit), 1)  # output frames
        if len(wave) <= chunk * unit + win:
            return self.log_posteriors_batch([wave])[0]
        k = self.config.model.stack_frames
        total = -(-int(num_frames(len(wave), self.config.features)) // k)  # output frames
        context = round(self.context_seconds * self.sample_rate / unit)
        pieces = []
        for start in range(0, total, chunk):
            first, last = max(start - context, 0), min(start + chunk + context, total)
            # samples for feature frames first*k .. last*k - 1 (fewer at the recording's end)
            segment = wave[first * unit: (last * k - 1) * hop + win]
            out = self.log_posteriors_batch([segment])[0]
            pieces.append(out[start - first: start - first + min(chunk, total - start)])
        return torch.cat(pieces)  # (T', C)

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
        hyp = decode_outputs(log_probs.unsqueeze(0), torch.tensor([len(log_probs)]), self.beam)[0]
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
