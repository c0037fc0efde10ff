"""CTC decoding: best path (greedy) and prefix beam search, with frame spans per phone, and
closed-vocabulary recognition (the most probable of a few label sequences, e.g. ten digits).

"Beam 1" means best-path decoding: ``ctc_decode`` widths <= 1 take the argmax path, which is
what a prefix search of width 1 finds whenever each frame's best label has probability
above 1/2 (tested), and is exact and fast otherwise too.

Timing rule for CTC outputs: a phone's start is the first frame of its run of
non-blank labels (its "spike"), and it ends where the next phone starts (or at the last
non-blank frame of the utterance); leading and trailing blank frames belong to no phone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from phonelstm.errors import PhonelstmError


@dataclass
class Hypothesis:
    ids: list[int]  # label indices (blank removed)
    frames: list[int]  # first output frame of each label's emission
    score: float = 0.0  # log probability of the best path / the prefix


def greedy_decode(log_probs: Tensor, lengths: Tensor, blank: int = 0) -> list[Hypothesis]:
    """Best path: argmax per frame, collapse repeats, drop blanks. ``log_probs: (B, T, C)``."""
    best, best_ids = log_probs.max(-1)  # (B, T)
    hyps = []
    for b in range(log_probs.shape[0]):
        n = int(lengths[b])
        path = best_ids[b, :n].tolist()
        ids, frames, previous = [], [], blank
        for t, label in enumerate(path):
            if label != blank and label != previous:
                ids.append(label)
                frames.append(t)
            previous = label
        hyps.append(Hypothesis(ids, frames, float(best[b, :n].sum())))
    return hyps


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def prefix_beam_search(log_probs: Tensor, beam: int = 16, blank: int = 0,
                       prune: float = -12.0) -> Hypothesis:
    """CTC prefix beam search over one utterance ``log_probs: (T, C)`` (no language model).

    Keeps, for every prefix, the log probabilities of paths ending in blank and in its last
    label; labels below ``prune`` log probability at a frame are skipped for speed (set it
    to ``-inf`` for an exact search within the beam).
    """
    lp = log_probs.detach().float().cpu()
    T, C = lp.shape
    # prefix -> (log p ending in blank, log p ending in non-blank); frames of each label
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    starts: dict[tuple[int, ...], list[int]] = {(): []}
    for t in range(T):
        frame = lp[t].tolist()
        candidates = [c for c in range(C) if c != blank and frame[c] >= prune]
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (p_b, p_nb) in beams.items():
            total = _logaddexp(p_b, p_nb)
            entry = nxt[prefix]
            entry[0] = _logaddexp(entry[0], total + frame[blank])
            if prefix:
                # repeat of the last label without a blank in between: same prefix
                entry[1] = _logaddexp(entry[1], p_nb + frame[prefix[-1]])
            for c in candidates:
                extended = prefix + (c,)
                # a repeated label needs a blank in between to start a new symbol
                source = p_b if prefix and c == prefix[-1] else total
                ext = nxt[extended]
                ext[1] = _logaddexp(ext[1], source + frame[c])
                if extended not in starts:
                    starts[extended] = starts[prefix] + [t]
        ranked = sorted(nxt.items(), key=lambda kv: _logaddexp(*kv[1]), reverse=True)[:beam]
        beams = {prefix: (p[0], p[1]) for prefix, p in ranked}
    prefix, (p_b, p_nb) = max(beams.items(), key=lambda kv: _logaddexp(*kv[1]))
    return Hypothesis(list(prefix), starts[prefix], _logaddexp(p_b, p_nb))


BACKENDS = ("auto", "torchaudio", "python")


class DecoderError(PhonelstmError):
    """A beam-search backend is unknown or cannot be loaded."""


@lru_cache(maxsize=8)
def _torchaudio_decoder(num_classes: int, beam: int, blank: int) -> Any:
    """Lexicon-free flashlight decoder with no language model; ``None`` when unavailable."""
    try:
        from torchaudio.models.decoder import ctc_decoder
    except (ImportError, OSError):
        return None
    tokens = [str(i) for i in range(num_classes)]
    # log_add: merge paths of the same prefix by summing probabilities, as prefix search does
    return ctc_decoder(lexicon=None, tokens=tokens, lm=None, nbest=1, beam_size=beam,
                       blank_token=tokens[blank], sil_token=tokens[blank], log_add=True)


def beam_decode(log_probs: Tensor, lengths: Tensor, beam: int, blank: int = 0,
                backend: str = "auto") -> list[Hypothesis]:
    """CTC beam search for each utterance of a batch ``(B, T, C)``.

    ``backend``: ``torchaudio`` (flashlight's C++ lexicon-free decoder, many times faster),
    ``python`` (``prefix_beam_search`` above, the tested reference), or ``auto`` (torchaudio
    when it imports, else python).
    """
    if backend not in BACKENDS:
        raise DecoderError(f"beam backend must be one of {BACKENDS}, got {backend!r}")
    decoder = None
    if backend != "python":
        decoder = _torchaudio_decoder(log_probs.shape[-1], beam, blank)
        if decoder is None and backend == "torchaudio":
            raise DecoderError("beam backend 'torchaudio' needs torchaudio's ctc_decoder "
                               "(pip install flashlight-text)")
    if decoder is None:
        return [prefix_beam_search(log_probs[b, : int(lengths[b])], beam, blank)
                for b in range(log_probs.shape[0])]
    results = decoder(log_probs.detach().float().cpu().contiguous(), lengths.cpu().int())
    # flashlight counts time steps from 1 (a start state precedes the first frame)
    return [Hypothesis([int(i) for i in best.tokens], [int(t) - 1 for t in best.timesteps],
                       float(best.score))
            for best, *_ in results]


def ctc_decode(log_probs: Tensor, lengths: Tensor, beam: int = 1,
               backend: str = "auto") -> list[Hypothesis]:
    """CTC decoding of ``(B, T, C)`` log posteriors: greedy for ``beam <= 1``, else beam."""
    if beam <= 1:
        return greedy_decode(log_probs, lengths)
    return beam_decode(log_probs, lengths, beam, backend=backend)


def best_candidate(log_probs: Tensor, lengths: Tensor, candidates: list[list[int]],
                   blank: int = 0) -> list[int]:
    """Index into ``candidates`` of the label sequence with the highest CTC probability (all
    alignments summed), per utterance of ``(B, T, C)`` log posteriors: isolated-word
    recognition with a grammar of ``candidates``."""
    batch = log_probs.shape[0]
    inputs = log_probs.transpose(0, 1).float().cpu()  # (T, B, C)
    costs = torch.stack([
        torch.nn.functional.ctc_loss(
            inputs, torch.tensor([labels] * batch), lengths.cpu(),
            torch.full((batch,), len(labels)), blank=blank, reduction="none")
        for labels in candidates])  # (K, B); inf where an utterance is too short for one
    return costs.argmin(0).tolist()


def spans(frames: list[int], last_frame: int) -> list[tuple[int, int]]:
    """Frame spans ``[start, end)`` of decoded labels from their first emission frames."""
    ends = frames[1:] + [max(last_frame, frames[-1] + 1)] if frames else []
    return list(zip(frames, ends, strict=True))


def nonblank_last_frame(log_probs: Tensor, length: int, blank: int = 0) -> int:
    """One past the last frame whose best label is not blank (0 when all are blank)."""
    labels = log_probs[:length].argmax(-1)
    idx = torch.nonzero(labels != blank)
    return int(idx[-1]) + 1 if len(idx) else 0
