"""Re-choose the pronunciation variants of a manifest's word transcripts with a CTC model.

    python scripts/relabel.py exp/librispeech/free_english_ctc/best.pt \\
        data/librispeech/train.jsonl --out data/librispeech/train_variants.jsonl

Every utterance needs its words (``text``, as the LibriSpeech, FSDD and TIMIT readers keep
them); each word gets the dictionary variant under which the model scores the utterance best
(``phonelstm.relabel``), through the lexicon settings given here (``data.lexicon.*``'s
defaults unless ``--dictionary``). The new manifest is written atomically; use it for training
with ``data.train_manifests=[train_variants]`` when it lies in ``data.dir``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from phonelstm.config import LexiconConfig
from phonelstm.data.lexicon import Lexicon
from phonelstm.data.manifest import read_manifest, write_manifest
from phonelstm.device import resolve_device
from phonelstm.errors import PhonelstmError
from phonelstm.recognizer import Recognizer
from phonelstm.relabel import relabel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a CTC model (best.pt or exported)")
    parser.add_argument("manifest", type=Path, help="utterances with a text field")
    parser.add_argument("--out", type=Path, required=True, help="the relabelled manifest")
    parser.add_argument("--dictionary", default=LexiconConfig.dictionary,
                        help="pronouncing dictionary (default: the shipped CMUdict)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.out.resolve() == args.manifest.resolve():
        sys.exit(f"relabel: error: --out {args.out} would overwrite the input manifest")
    start = time.perf_counter()
    try:
        utts = read_manifest(args.manifest)
        recognizer = Recognizer.from_checkpoint(args.checkpoint, resolve_device(args.device))
        lexicon = Lexicon(LexiconConfig(dictionary=args.dictionary))
        relabelled, changed = relabel(utts, recognizer, lexicon, str(args.manifest))
    except PhonelstmError as err:
        sys.exit(f"relabel: error: {err}")
    write_manifest(args.out, relabelled)
    different = sum(a.phones != b.phones for a, b in zip(utts, relabelled, strict=True))
    print(f"{args.out}: {len(utts)} utterances, {changed} words given another variant than "
          f"the dictionary's first; {different} utterances' phones differ from "
          f"{args.manifest.name} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
