"""Data loaders' batches through a model and scored: dev and test scoring in training, and
the scripts. ``Recognizer`` is the path for audio files; both share ``log_posteriors``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from phonelstm.batch import Batch
from phonelstm.config import FeatureConfig
from phonelstm.decoding import ctc_decode
from phonelstm.features import FeatureExtractor, Normalizer, raw_batch_features
from phonelstm.metrics import ConfusionMatrix, Scores
from phonelstm.phones import Vocabulary, fold
from phonelstm.recognizer import log_posteriors


@dataclass
class Output:
    batch: Batch
    log_probs: Tensor  # (B, T', C)
    lengths: Tensor  # (B,)


@torch.no_grad()
def forward_batches(model: nn.Module, batches: Iterable[Batch], extractor: FeatureExtractor,
                    normalizer: Normalizer | None, cfg: FeatureConfig,
                    device: torch.device) -> Iterator[Output]:
    """A data loader's batches through the model in eval mode (cached features used)."""
    model.eval()
    for batch in batches:
        batch = batch.to(device)
        feats, lengths = raw_batch_features(batch, extractor)
        yield Output(batch, *log_posteriors(model, feats, lengths, normalizer, cfg))


def score(outputs: Iterable[Output], vocab: Vocabulary, references: dict[str, list[str]],
          score_phones: int = 39, beam: int = 1, backend: str = "auto",
          confusion: ConfusionMatrix | None = None) -> Scores:
    """PER (CTC models: decode, fold both sides) or frame accuracy (framewise models, whose
    frames also go into ``confusion`` when given)."""
    scores = Scores()
    for out in outputs:
        if vocab.has_blank:
            hyps = ctc_decode(out.log_probs, out.lengths, beam, backend)
            for utt_id, hyp in zip(out.batch.ids, hyps, strict=True):
                scores.add(fold(references[utt_id], score_phones),
                           fold(vocab.decode(hyp.ids), score_phones))
        else:
            predicted = out.log_probs.argmax(-1)
            labels = out.batch.frame_labels[:, : predicted.shape[1]]
            scores.add_frames(predicted, labels)
            if confusion is not None:
                confusion.update(labels, predicted)
    return scores
