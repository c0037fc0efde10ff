"""Turn a training checkpoint into a model for decoding only, as shipped in the package.

    python scripts/export_model.py exp/free_english/main/best.pt \\
        phonelstm/pretrained/free_english_ctc.pt

Keeps what ``Recognizer`` reads (format, version, config, symbols, model weights, feature
statistics) and drops what only resuming needs (optimizer, scheduler, RNG states,
progress): about a third of the size. Written atomically; the result loads with
``Recognizer.from_checkpoint`` like any checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from phonelstm.checkpoint import load_checkpoint, save_checkpoint

KEEP = ("config", "symbols", "model", "normalizer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a best.pt/last.pt of phonelstm-train")
    parser.add_argument("out", type=Path, help="the decoding-only model to write")
    args = parser.parse_args()
    ckpt = load_checkpoint(args.checkpoint)
    save_checkpoint(args.out, {key: ckpt[key] for key in KEEP})
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB "
          f"({sum(t.numel() for t in ckpt['model'].values()):,} weights)")


if __name__ == "__main__":
    main()
