"""Running a trained model over batches: features, log posteriors, and scoring."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from phonelstm.config import FeatureConfig
from phonelstm.data.dataset import Batch
from phonelstm.decoding import Hypothesis, beam_decode, greedy_decode
from phonelstm.features import FeatureExtractor, Normalizer, normalize_utterances
from phonelstm.metrics import ConfusionMatrix, ErrorCounts, count_errors, frame_accuracy
from phonelstm.phones import Vocabulary, fold


def compute_features(wave: Tensor, wave_lengths: Tensor, extractor: FeatureExtractor,
                     normalizer: Normalizer | None, cfg: FeatureConfig) -> tuple[Tensor, Tensor]:
    """Padded waveforms ``(B, N)`` -> normalised features ``(B, T, F)`` and frame counts."""
    feats, lengths = extractor(wave, wave_lengths)
    return _normalize(feats, lengths, normalizer, cfg), lengths


def raw_batch_features(batch: Batch, extractor: FeatureExtractor) -> tuple[Tensor, Tensor]:
    """Un-normalised features ``(B, T, F)`` and frame counts: cached ones, or extracted now."""
    if batch.feats is not None:
        return batch.feats, batch.feat_lengths
    return extractor(batch.wave, batch.wave_lengths)


def batch_features(batch: Batch, extractor: FeatureExtractor, normalizer: Normalizer | None,
                   cfg: FeatureConfig) -> tuple[Tensor, Tensor]:
    """Normalised features ``(B, T, F)`` and frame counts of a batch."""
    feats, lengths = raw_batch_features(batch, extractor)
    return _normalize(feats, lengths, normalizer, cfg), lengths


def _normalize(feats: Tensor, lengths: Tensor, normalizer: Normalizer | None,
               cfg: FeatureConfig) -> Tensor:
    if cfg.normalize == "global" and normalizer is not None:
        return normalizer(feats)
    if cfg.normalize == "utterance":
        return normalize_utterances(feats, lengths)
    return feats


@dataclass
class Scores:
    """Accumulated results of one pass over a data set."""

    errors: ErrorCounts = field(default_factory=ErrorCounts)
    frames_correct: int = 0
    frames_total: int = 0

    @property
    def frame_accuracy(self) -> float:
        return 100.0 * self.frames_correct / max(self.frames_total, 1)


@dataclass
class Output:
    batch: Batch
    log_probs: Tensor  # (B, T', C)
    lengths: Tensor  # (B,)


@torch.no_grad()
def forward_batches(model: nn.Module, batches: Iterable[Batch], extractor: FeatureExtractor,
                    normalizer: Normalizer | None, cfg: FeatureConfig,
                    device: torch.device) -> Iterator[Output]:
    model.eval()
    for batch in batches:
        batch = batch.to(device)
        feats, lengths = batch_features(batch, extractor, normalizer, cfg)
        logits, out_lengths = model(feats, lengths)
        yield Output(batch, logits.float().log_softmax(-1), out_lengths)


def decode_outputs(log_probs: Tensor, lengths: Tensor, beam: int = 1,
                   backend: str = "auto") -> list[Hypothesis]:
    """CTC decoding of ``(B, T, C)`` log posteriors: greedy for ``beam <= 1``, else beam."""
    if beam <= 1:
        return greedy_decode(log_probs, lengths)
    return beam_decode(log_probs, lengths, beam, backend=backend)


def score(outputs: Iterable[Output], vocab: Vocabulary, references: dict[str, list[str]],
          score_phones: int = 39, beam: int = 1, backend: str = "auto",
          confusion: ConfusionMatrix | None = None) -> Scores:
    """PER (CTC models: decode, fold both sides) or frame accuracy (framewise models, whose
    frames also go into ``confusion`` when given)."""
    scores = Scores()
    for out in outputs:
        if vocab.has_blank:
            hyps = decode_outputs(out.log_probs, out.lengths, beam, backend)
            for utt_id, hyp in zip(out.batch.ids, hyps, strict=True):
                ref = fold(references[utt_id], score_phones)
                hyp_phones = fold(vocab.decode(hyp.ids), score_phones)
                scores.errors += count_errors(ref, hyp_phones)
        else:
            predicted = out.log_probs.argmax(-1)
            labels = out.batch.frame_labels[:, : predicted.shape[1]]
            correct, total = frame_accuracy(predicted, labels)
            if confusion is not None:
                confusion.update(labels, predicted)
            scores.frames_correct += correct
            scores.frames_total += total
    return scores
