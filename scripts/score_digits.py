"""PER and digit accuracy of a CTC checkpoint on a prepared FSDD split or a manifest.

    python scripts/score_digits.py exp/fsdd/fsdd_ctc/best.pt [--split test] [--beam 1 16]
    python scripts/score_digits.py best.pt --manifest data/fsdd_speaker4/test.jsonl --out report

Two digit accuracies: free phone decoding (greedy or each ``--beam`` width), each hypothesis read as
the digit with a pronunciation nearest in edit distance (``digit_from_phones``); and a
ten-word grammar, the digit with the pronunciation of highest CTC probability
(``best_candidate``), as an isolated-digit recogniser decodes. Pronunciations come from the
lexicon the model was trained with (``data.lexicon`` of its config: every dictionary variant
of each digit word). The reference digit is the manifest's ``digit`` field (FSDD's manifests
have it), else the digit nearest the reference phones. Prints the figures and writes them to
``<out>/digits_<split or manifest name>_beam<N>.json`` (``--out``, default ``digits/`` in the
current directory; ``scripts/collect_results.py`` shows them when ``out`` is a run folder).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from phonelstm.data.fsdd import digit_lexicon
from phonelstm.data.loader import make_loader
from phonelstm.data.manifest import Utterance, read_manifest
from phonelstm.data.prepare import load_split
from phonelstm.decoding import best_candidate, ctc_decode
from phonelstm.device import resolve_device
from phonelstm.io import atomic_write_text
from phonelstm.metrics import Scores, count_errors
from phonelstm.phones import fold
from phonelstm.recognizer import Recognizer
from phonelstm.scoring import forward_batches

SILENCE = frozenset({"h#", "pau", "epi"})


def digit_from_phones(phones: Sequence[str], lexicon: dict[str, tuple[str, list[list[str]]]]
                      ) -> str:
    """The digit with a pronunciation closest (edit distance, silences ignored) to ``phones``."""
    spoken = [p for p in phones if p not in SILENCE]

    def distance(digit: str) -> int:
        return min(count_errors([p for p in pron if p not in SILENCE], spoken).errors
                   for pron in lexicon[digit][1])

    return min(sorted(lexicon), key=distance)


def score_digits(recognizer: Recognizer, utts: list[Utterance], name: str,
                 beams: Sequence[int], out: Path) -> None:
    """Print the figures of ``utts`` for each beam width and write
    ``<out>/digits_<name>_beam<N>.json``; the network runs once for all beams."""
    config, vocab = recognizer.config, recognizer.vocab
    references = {u.id: u.phones for u in utts}
    loader, _ = make_loader(utts, vocab, config, shuffle=False)
    lexicon = digit_lexicon(config.data.lexicon)
    # every pronunciation of every digit; a candidate's index says its digit
    candidates = [(d, pron) for d in sorted(lexicon) for pron in lexicon[d][1]]
    grammar = [vocab.encode(pron) for _, pron in candidates]
    truths = {u.id: u.extra.get("digit") or digit_from_phones(u.phones, lexicon) for u in utts}
    scores = {beam: Scores() for beam in beams}
    correct = dict.fromkeys(beams, 0)
    correct_grammar = 0
    for batch_out in forward_batches(recognizer.model, loader, recognizer.extractor,
                                     recognizer.normalizer, config.features, recognizer.device):
        best = best_candidate(batch_out.log_probs, batch_out.lengths, grammar)
        for utt_id, k in zip(batch_out.batch.ids, best, strict=True):
            correct_grammar += candidates[k][0] == truths[utt_id]
        for beam in beams:
            hyps = ctc_decode(batch_out.log_probs, batch_out.lengths, beam)
            for utt_id, hyp in zip(batch_out.batch.ids, hyps, strict=True):
                phones = vocab.decode(hyp.ids)
                scores[beam].add(fold(references[utt_id], 39), fold(phones, 39))
                correct[beam] += digit_from_phones(phones, lexicon) == truths[utt_id]
    grammar_accuracy = 100.0 * correct_grammar / len(utts)
    for beam in beams:
        accuracy = 100.0 * correct[beam] / len(utts)
        print(f"{name} (beam {beam}): {scores[beam].errors.summary()}, digit accuracy "
              f"{accuracy:.2f}% ({correct[beam]}/{len(utts)}), with the ten-digit grammar "
              f"{grammar_accuracy:.2f}% ({correct_grammar}/{len(utts)})")
        atomic_write_text(out / f"digits_{name}_beam{beam}.json", json.dumps({
            "split": name, "beam": beam, "per": round(scores[beam].errors.rate, 2),
            "digit_accuracy": round(accuracy, 2),
            "grammar_accuracy": round(grammar_accuracy, 2), "utterances": len(utts)},
            indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--split", default="test",
                        help="a split of the data the checkpoint was trained on")
    parser.add_argument("--manifest", type=Path,
                        help="or any manifest of digit recordings (e.g. another corpus's)")
    parser.add_argument("--beam", type=int, nargs="+", default=[1],
                        help="beam widths of the free phone decoding (1: greedy)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("digits"),
                        help="folder for the JSON reports (default: digits/)")
    args = parser.parse_args()
    recognizer = Recognizer.from_checkpoint(args.checkpoint, str(resolve_device(args.device)))
    utts = (read_manifest(args.manifest) if args.manifest
            else load_split(recognizer.config.data, args.split))
    score_digits(recognizer, utts, args.manifest.stem if args.manifest else args.split,
                 args.beam, args.out)


if __name__ == "__main__":
    main()
