"""CTC decoding: prefix beam search against exhaustive search, greedy, and torchaudio."""

import itertools
import math

import pytest
import torch

from phonelstm.decoding import (
    DecoderError,
    _torchaudio_decoder,
    beam_decode,
    best_candidate,
    ctc_decode,
    greedy_decode,
    prefix_beam_search,
)


def collapse(path, blank=0):
    out, previous = [], blank
    for label in path:
        if label != blank and label != previous:
            out.append(label)
        previous = label
    return tuple(out)


def sequence_log_probs(log_probs):
    """Log probability of every label sequence: every path's probability summed."""
    T, C = log_probs.shape
    totals = {}
    for path in itertools.product(range(C), repeat=T):
        p = sum(float(log_probs[t, c]) for t, c in enumerate(path))
        key = collapse(path)
        totals[key] = float(torch.logaddexp(torch.tensor(totals.get(key, -math.inf)),
                                            torch.tensor(p)))
    return totals


def exhaustive(log_probs):
    """Most probable label sequence and its log probability."""
    totals = sequence_log_probs(log_probs)
    best = max(totals, key=totals.get)
    return list(best), totals[best]


def random_log_probs(seed, T, C, scale=2.0, batch=None):
    g = torch.Generator().manual_seed(seed)
    shape = (T, C) if batch is None else (batch, T, C)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).log_softmax(-1)


@pytest.mark.parametrize("seed", range(12))
def test_prefix_beam_search_equals_exhaustive_search(seed):
    log_probs = random_log_probs(seed, T=6, C=3, scale=1.5)
    ids, log_p = exhaustive(log_probs)
    # a beam wider than the number of prefixes makes the search exact
    hyp = prefix_beam_search(log_probs, beam=10_000, prune=-math.inf)
    assert hyp.ids == ids
    assert hyp.score == pytest.approx(log_p, abs=1e-5)  # the search runs in float32


@pytest.mark.parametrize("seed", range(30))
def test_beam_one_equals_greedy_when_each_frame_has_a_majority_label(seed):
    g = torch.Generator().manual_seed(seed)
    T, C = 25, 5
    best = torch.randint(0, C, (T,), generator=g)
    probs = torch.rand(T, C, generator=g, dtype=torch.float64)
    probs = probs / probs.sum(-1, keepdim=True) * 0.45  # the others share at most 0.45
    probs[torch.arange(T), best] = 0.0
    probs[torch.arange(T), best] = 1.0 - probs.sum(-1)  # > 1/2
    log_probs = probs.log()
    greedy = greedy_decode(log_probs.unsqueeze(0), torch.tensor([T]))[0]
    assert prefix_beam_search(log_probs, beam=1, prune=-math.inf).ids == greedy.ids


def test_beam_width_one_in_decode_is_best_path():
    log_probs = random_log_probs(0, T=40, C=6, batch=3)
    lengths = torch.tensor([40, 31, 7])
    assert ([h.ids for h in ctc_decode(log_probs, lengths, beam=1)]
            == [h.ids for h in greedy_decode(log_probs, lengths)])


def test_python_backend_is_batched_over_utterances():
    log_probs = random_log_probs(1, T=20, C=5, batch=3)
    lengths = torch.tensor([20, 12, 5])
    hyps = beam_decode(log_probs, lengths, beam=8, backend="python")
    assert [h.ids for h in hyps] == [prefix_beam_search(log_probs[b, : lengths[b]], 8).ids
                                     for b in range(3)]


def test_unknown_backend_is_an_error():
    with pytest.raises(DecoderError, match="backend"):
        beam_decode(random_log_probs(0, 5, 3, batch=1), torch.tensor([5]), 4, backend="kenlm")


def test_torchaudio_decoder_agrees_with_prefix_beam_search():
    """flashlight keeps prefixes ending in blank and in a label as separate beam entries, so it
    may rank differently on flat posteriors; on peaky (model-like) ones the two agree on at
    least 95% of utterances, and where they agree the frames of each label match or the
    torchaudio frame is within the label's run."""
    if _torchaudio_decoder(6, 16, 0) is None:
        pytest.skip("torchaudio ctc_decoder (flashlight-text) not available")
    log_probs = random_log_probs(3, T=30, C=6, scale=8.0, batch=60).float()
    lengths = torch.full((60,), 30)
    ours = beam_decode(log_probs, lengths, beam=16, backend="python")
    theirs = beam_decode(log_probs, lengths, beam=16, backend="torchaudio")
    agree = sum(a.ids == b.ids for a, b in zip(ours, theirs, strict=True))
    assert agree / len(ours) >= 0.95, agree
    for a, b in zip(ours, theirs, strict=True):
        if a.ids == b.ids:
            assert len(b.frames) == len(b.ids) and all(0 <= f < 30 for f in b.frames)


@pytest.mark.parametrize("seed", range(6))
def test_best_candidate_is_the_most_probable_of_the_candidates(seed):
    log_probs = random_log_probs(seed, T=6, C=4, scale=1.5, batch=3)  # (B, T, C)
    lengths = torch.tensor([6, 5, 4])
    candidates = [[1], [2, 3], [1, 1], [3, 2, 1], [1, 2, 3, 1, 2]]  # the last: too long for T=4
    best = best_candidate(log_probs, lengths, candidates)
    for b, n in enumerate(lengths.tolist()):
        totals = sequence_log_probs(log_probs[b, :n])
        expected = max(range(len(candidates)),
                       key=lambda k: totals.get(tuple(candidates[k]), -math.inf))
        assert best[b] == expected
