"""Training losses, always computed in fp32 (also under autocast)."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

IGNORE = -100  # frame label of padding (and of frames no segment covers)


def ctc_loss(logits: Tensor, lengths: Tensor, targets: Tensor, target_lengths: Tensor,
             blank: int = 0) -> Tensor:
    """Mean over utterances of the CTC negative log likelihood; impossible alignments -> 0."""
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (T, B, C)
    total = F.ctc_loss(log_probs, targets, lengths, target_lengths, blank=blank,
                       reduction="sum", zero_infinity=True)
    return total / logits.shape[0]


def frame_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean per-frame cross-entropy over valid frames. ``logits: (B, T, C)``, ``labels: (B, T)``."""
    T = min(logits.shape[1], labels.shape[1])
    return F.cross_entropy(logits[:, :T].float().flatten(0, 1), labels[:, :T].flatten(),
                           ignore_index=IGNORE)
