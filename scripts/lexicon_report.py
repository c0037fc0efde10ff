"""How close the lexicon's phones come to what people said, and how good its fallback is.

    python scripts/lexicon_report.py data/timit_sample_eval/test.jsonl
    python scripts/lexicon_report.py data/timit_sample_eval/test.jsonl --checkpoint best.pt
    python scripts/lexicon_report.py --g2p 2000

With a manifest whose utterances have hand-labelled phones and their words (``text``; the
TIMIT reader keeps the ``.wrd`` words), prints the PER of the lexicon's phones for those words
against the hand labels (39 and 61 phones) for each choice of ``phonelstm.data.lexicon``: all rules
off, each rule on its own, each left out, all on; with ``--checkpoint``, also with the variants
that CTC model chooses (``phonelstm.relabel``). With ``--g2p N``, the PER of the eSpeak NG
fallback against the dictionary on N dictionary words drawn at random (seeded): what an
unknown word's phones are worth.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

from phonelstm.config import LexiconConfig
from phonelstm.data.lexicon import Lexicon, espeak_pron, words_of
from phonelstm.data.manifest import read_manifest
from phonelstm.errors import PhonelstmError
from phonelstm.metrics import Scores
from phonelstm.phones import fold

RULES = ("flap", "reduce", "unreleased")


def settings() -> list[tuple[str, LexiconConfig]]:
    """Every rule off, each alone, each left out, all on."""
    none = LexiconConfig(**dict.fromkeys(RULES, False))
    rows = [("dictionary only", none)]
    rows += [(f"only {rule}", replace(none, **{rule: True})) for rule in RULES]
    rows += [(f"all but {rule}", replace(LexiconConfig(), **{rule: False})) for rule in RULES]
    return rows + [("all rules (default)", LexiconConfig())]


def score(pairs: list[tuple[list[str], list[str]]]) -> str:
    """``PER 39 / 61`` of (reference, hypothesis) phone pairs."""
    rates = []
    for phones in (39, 61):
        scores = Scores()
        for ref, hyp in pairs:
            scores.add(fold(ref, phones), fold(hyp, phones))
        rates.append(scores.errors)
    return (f"{rates[0].rate:6.2f}% {rates[1].rate:6.2f}%   ({rates[0].sub} sub, "
            f"{rates[0].dels} del, {rates[0].ins} ins of {rates[0].ref_len})")


def label_report(manifest: Path, checkpoint: Path | None) -> None:
    utts = [u for u in read_manifest(manifest) if u.extra.get("text")]
    if not utts:
        sys.exit(f"lexicon_report: error: {manifest}: no utterance has a text field")
    print(f"{manifest}: {len(utts)} utterances; lexicon phones against the manifest's")
    print(f"{'lexicon':28s} {'PER 39':>7s} {'PER 61':>7s}")
    for name, cfg in settings():
        lexicon = Lexicon(cfg)
        pairs = [(u.phones, lexicon.sentence(words_of(u.extra["text"]), u.id)) for u in utts]
        print(f"{name:28s} {score(pairs)}")
    if checkpoint:
        from phonelstm.recognizer import Recognizer
        from phonelstm.relabel import relabel

        chosen, changed = relabel(utts, Recognizer.from_checkpoint(checkpoint), Lexicon(),
                                  str(manifest))
        pairs = [(u.phones, c.phones) for u, c in zip(utts, chosen, strict=True)]
        print(f"{'all rules, model variants':28s} {score(pairs)}   {changed} words changed")


def g2p_report(count: int, seed: int) -> None:
    lexicon = Lexicon(LexiconConfig(fallback="none"))
    words = sorted(w for w in lexicon.entries if w.isalpha())
    sample = random.Random(seed).sample(words, count)
    pairs = [(lexicon.phones([lexicon.variants(w, "g2p")[0]]),
              lexicon.phones([espeak_pron(w, "g2p")])) for w in sample]
    print(f"eSpeak NG fallback against the dictionary's first pronunciation, {count} random "
          f"dictionary words (seed {seed}):")
    print(f"{'fallback':28s} {score(pairs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, nargs="?",
                        help="manifest with hand-labelled phones and text (words)")
    parser.add_argument("--checkpoint", type=Path, help="also score a CTC model's variants")
    parser.add_argument("--g2p", type=int, default=0, metavar="N",
                        help="score the eSpeak NG fallback on N dictionary words")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        if args.manifest:
            label_report(args.manifest, args.checkpoint)
        if args.g2p:
            g2p_report(args.g2p, args.seed)
    except PhonelstmError as err:
        sys.exit(f"lexicon_report: error: {err}")


if __name__ == "__main__":
    main()
