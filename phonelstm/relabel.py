"""Pronunciation variants chosen by a model: CTC re-labelling of word transcripts.

A dictionary gives several pronunciations of many words ("the": ``dh ax``, ``dh ah``,
``dh iy``; "and": ``ax n d``, ``ae n d``). As Kaldi's and the Montreal Forced Aligner's
alignment picks among them, each word of an utterance gets the variant under which a trained
CTC model gives the whole utterance's phones the highest probability (all alignments summed):
one word at a time with the others fixed, repeated until no choice changes
(``choose_variants``). Only utterances with a ``text`` field are relabelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from phonelstm.data.corpus import DataError
from phonelstm.data.lexicon import Lexicon, words_of
from phonelstm.data.manifest import Utterance
from phonelstm.decoding import best_candidate
from phonelstm.phones import Vocabulary
from phonelstm.recognizer import Recognizer

MAX_PASSES = 3  # over the words; a pass that changes nothing ends the search sooner


def choose_variants(log_probs: Tensor, words: Sequence[str], lexicon: Lexicon,
                    vocab: Vocabulary, where: str) -> tuple[list[str], int]:
    """The phones of ``words`` with the variants ``log_probs: (T', C)`` scores best, and how
    many words got another variant than the dictionary's first."""
    variants = [lexicon.variants(word, where) for word in words]
    choice = [0] * len(words)
    lengths = torch.tensor([len(log_probs)])
    for _ in range(MAX_PASSES):
        changed = False
        for i, options in enumerate(variants):
            if len(options) == 1:
                continue
            candidates = []
            for k in range(len(options)):
                trial = choice[:i] + [k] + choice[i + 1:]
                prons = [v[c] for v, c in zip(variants, trial, strict=True)]
                candidates.append(vocab.encode(lexicon.phones(prons)))
            best = best_candidate(log_probs[None], lengths, candidates)[0]
            changed |= best != choice[i]
            choice[i] = best
        if not changed:
            break
    prons = [v[c] for v, c in zip(variants, choice, strict=True)]
    return lexicon.phones(prons), sum(c != 0 for c in choice)


def relabel(utts: Sequence[Utterance], recognizer: Recognizer, lexicon: Lexicon,
            where: str) -> tuple[list[Utterance], int]:
    """``utts`` with the phones of each one's ``text`` re-chosen by ``recognizer`` (a CTC
    model), and the number of words whose variant changed. ``where`` names the manifest."""
    if not recognizer.vocab.has_blank:
        raise DataError("relabelling needs a CTC model (trainer.task=ctc)")
    missing = [u.id for u in utts if not u.extra.get("text")]
    if missing:
        raise DataError(f"{where}: utterance {missing[0]} has no text field "
                        f"({len(missing)} without one): variants are chosen for word transcripts")
    results, failed = recognizer.decode_utterances(utts, keep_posteriors=True)
    if failed:
        audio, error = next(iter(failed.items()))
        raise DataError(f"{error} ({len(failed)} file(s) could not be read)")
    relabelled, changed = [], 0
    for utt, result in zip(utts, results, strict=True):
        phones, n = choose_variants(torch.from_numpy(result.log_posteriors),
                                    words_of(utt.extra["text"]), lexicon, recognizer.vocab,
                                    f"{where}: {utt.id}")
        relabelled.append(replace(utt, phones=phones))
        changed += n
    return relabelled, changed
