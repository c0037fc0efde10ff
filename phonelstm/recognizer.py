"""Python API for decoding: ``Recognizer.from_checkpoint(path).transcribe(audio_or_path)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from phonelstm.audio import load_audio
from phonelstm.checkpoint import load_checkpoint, restore
from phonelstm.decoding import nonblank_last_frame, spans
from phonelstm.features import frame_params
from phonelstm.inference import compute_features, decode_outputs


@dataclass
class Phone:
    phone: str
    start: float  # seconds
    end: float  # seconds


class Recognizer:
    """A trained model ready to turn audio into timed phones."""

    def __init__(self, ckpt: dict, device: str | torch.device = "cpu", beam: int = 1) -> None:
        self.device = torch.device(device)
        self.config, self.vocab, self.model, self.extractor, self.normalizer = restore(
            ckpt, self.device)
        self.beam = beam

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", beam: int = 1) -> Recognizer:
        return cls(load_checkpoint(path, device), device, beam)

    @property
    def frame_seconds(self) -> float:
        """Duration of one model output frame (feature hop times frame stacking)."""
        _, hop = frame_params(self.config.features)
        return hop * self.config.model.stack_frames / self.config.features.sample_rate

    @torch.no_grad()
    def transcribe(self, audio: str | Path | Tensor) -> list[Phone]:
        """Phones with start/end times for one utterance (a path or a mono 1-D waveform)."""
        wave = audio if isinstance(audio, Tensor) else load_audio(
            audio, self.config.features.sample_rate)
        wave = wave.to(self.device).unsqueeze(0)  # (1, N)
        lengths = torch.tensor([wave.shape[1]], device=self.device)
        feats, frames = compute_features(wave, lengths, self.extractor, self.normalizer,
                                         self.config.features)
        logits, out_lengths = self.model(feats, frames)
        log_probs = logits.float().log_softmax(-1)  # (1, T', C)
        hyp = decode_outputs(log_probs, out_lengths, self.beam)[0]
        last = nonblank_last_frame(log_probs[0], int(out_lengths[0]))
        step = self.frame_seconds
        win, _ = frame_params(self.config.features)
        offset = win / 2 / self.config.features.sample_rate  # frame centres, not frame starts
        return [Phone(self.vocab.symbols[i], round(s * step + offset, 3),
                      round(e * step + offset, 3))
                for i, (s, e) in zip(hyp.ids, spans(hyp.frames, last), strict=True)]
