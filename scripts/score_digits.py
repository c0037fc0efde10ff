"""PER and digit accuracy of a CTC checkpoint on a prepared FSDD split or a manifest.

    python scripts/score_digits.py exp/fsdd/ctc_lstm_3x192_fbank/best.pt [--split test] [--beam 1]
    python scripts/score_digits.py best.pt --manifest data/fsdd_speaker4/test.jsonl

Two digit accuracies: free phone decoding (greedy or ``--beam``), each hypothesis read as
the digit whose lexicon pronunciation is nearest in edit distance (``digit_from_phones``);
and a ten-word grammar, the digit whose pronunciation has the highest CTC probability
(``best_candidate``), as an isolated-digit recogniser decodes. The reference digit is read
from the reference phones, which are the lexicon entry. Prints the figures and writes them to
``digits_<split or manifest name>_beam<N>.json`` beside the checkpoint
(``scripts/collect_results.py`` shows them).
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


def digit_from_phones(phones: Sequence[str]) -> str:
    """The digit whose pronunciation is closest (edit distance, silences ignored) to ``phones``."""
    spoken = [p for p in phones if p not in SILENCE]
    lexicon = digit_lexicon()

    def distance(digit: str) -> int:
        ref = [p for p in lexicon[digit][1] if p not in SILENCE]
        return count_errors(ref, spoken).errors

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
    args = parser.parse_args()
    device = resolve_device(args.device)
    config, vocab, model, extractor, normalizer = restore(load_checkpoint(args.checkpoint,
                                                                         device), device)
    utts = read_manifest(args.manifest) if args.manifest else load_split(config.data, args.split)
    name = args.manifest.stem if args.manifest else args.split
    references = {u.id: u.phones for u in utts}
    loader, _ = make_loader(utts, vocab, config, shuffle=False)
    lexicon = digit_lexicon()
    digits = sorted(lexicon)
    grammar = [vocab.encode(lexicon[d][1]) for d in digits]
    scores, correct, correct_grammar = Scores(), 0, 0
    for out in forward_batches(model, loader, extractor, normalizer, config.features, device):
        hyps = ctc_decode(out.log_probs, out.lengths, args.beam)
        best = best_candidate(out.log_probs, out.lengths, grammar)
        for utt_id, hyp, k in zip(out.batch.ids, hyps, best, strict=True):
            phones, ref = vocab.decode(hyp.ids), references[utt_id]
            scores.add(fold(ref, 39), fold(phones, 39))
            truth = digit_from_phones(ref)
            correct += digit_from_phones(phones) == truth
            correct_grammar += digits[k] == truth
    accuracy = 100.0 * correct / len(utts)
    grammar_accuracy = 100.0 * correct_grammar / len(utts)
    print(f"{name}: {scores.errors.summary()}, digit accuracy {accuracy:.2f}% "
          f"({correct}/{len(utts)}), with the ten-digit grammar {grammar_accuracy:.2f}% "
          f"({correct_grammar}/{len(utts)})")
    out = args.checkpoint.parent / f"digits_{name}_beam{args.beam}.json"
    atomic_write_text(out, json.dumps({
        "split": name, "beam": args.beam, "per": round(scores.errors.rate, 2),
        "digit_accuracy": round(accuracy, 2), "grammar_accuracy": round(grammar_accuracy, 2),
        "utterances": len(utts)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
