"""PER and digit accuracy of a CTC checkpoint on a prepared FSDD split or a manifest.

    python scripts/score_digits.py exp/fsdd/ctc_lstm_3x192_fbank/best.pt [--split test] [--beam 1]
    python scripts/score_digits.py best.pt --manifest data/fsdd_speaker4/test.jsonl --out report

Two digit accuracies: free phone decoding (greedy or ``--beam``), each hypothesis read as
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

from phonelstm.checkpoint import load_checkpoint, restore
from phonelstm.data.fsdd import digit_lexicon
from phonelstm.data.loader import make_loader
from phonelstm.data.manifest import read_manifest
from phonelstm.data.prepare import load_split
from phonelstm.decoding import best_candidate, ctc_decode
from phonelstm.device import resolve_device
from phonelstm.io import atomic_write_text
from phonelstm.metrics import Scores, count_errors
from phonelstm.phones import fold
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--split", default="test",
                        help="a split of the data the checkpoint was trained on")
    parser.add_argument("--manifest", type=Path,
                        help="or any manifest of digit recordings (e.g. another corpus's)")
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("digits"),
                        help="folder for the JSON report (default: digits/)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    config, vocab, model, extractor, normalizer = restore(load_checkpoint(args.checkpoint,
                                                                         device), device)
    utts = read_manifest(args.manifest) if args.manifest else load_split(config.data, args.split)
    name = args.manifest.stem if args.manifest else args.split
    references = {u.id: u.phones for u in utts}
    loader, _ = make_loader(utts, vocab, config, shuffle=False)
    lexicon = digit_lexicon(config.data.lexicon)
    # every pronunciation of every digit; a candidate's index says its digit
    candidates = [(d, pron) for d in sorted(lexicon) for pron in lexicon[d][1]]
    grammar = [vocab.encode(pron) for _, pron in candidates]
    truths = {u.id: u.extra.get("digit") or digit_from_phones(u.phones, lexicon) for u in utts}
    scores, correct, correct_grammar = Scores(), 0, 0
    for out in forward_batches(model, loader, extractor, normalizer, config.features, device):
        hyps = ctc_decode(out.log_probs, out.lengths, args.beam)
        best = best_candidate(out.log_probs, out.lengths, grammar)
        for utt_id, hyp, k in zip(out.batch.ids, hyps, best, strict=True):
            phones, ref = vocab.decode(hyp.ids), references[utt_id]
            scores.add(fold(ref, 39), fold(phones, 39))
            truth = truths[utt_id]
            correct += digit_from_phones(phones, lexicon) == truth
            correct_grammar += candidates[k][0] == truth
    accuracy = 100.0 * correct / len(utts)
    grammar_accuracy = 100.0 * correct_grammar / len(utts)
    print(f"{name}: {scores.errors.summary()}, digit accuracy {accuracy:.2f}% "
          f"({correct}/{len(utts)}), with the ten-digit grammar {grammar_accuracy:.2f}% "
          f"({correct_grammar}/{len(utts)})")
    out = args.out / f"digits_{name}_beam{args.beam}.json"
    atomic_write_text(out, json.dumps({
        "split": name, "beam": args.beam, "per": round(scores.errors.rate, 2),
        "digit_accuracy": round(accuracy, 2), "grammar_accuracy": round(grammar_accuracy, 2),
        "utterances": len(utts)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
