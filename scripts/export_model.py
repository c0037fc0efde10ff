"""Turn a training checkpoint into a model for decoding only, as shipped in the package.

    python scripts/export_model.py exp/speechocean762/free_english_ctc_noise/best.pt \\
        exp/speechocean762/free_english_ctc_noise/free_english_ctc.pt
    python scripts/export_model.py old_model/best.pt old_model/export.pt --wave-scale 32768

Keeps what ``Recognizer`` reads (format, version, config, symbols, model weights, feature
statistics) and drops what only resuming needs (optimizer, scheduler, RNG states,
progress): about a third of the size. Written atomically; the result loads with
``Recognizer.from_checkpoint`` like any checkpoint.

``--wave-scale`` sets ``features.wave_scale`` of a model normalised per utterance: there a
scale only moves the log features that the float32-epsilon floor clipped, so 32768 (16-bit
units, the floor ~90 dB below full scale) makes its output independent of the recording
level without retraining (models trained with ``features.wave_scale=32768``, as the
recipe's are now, need no flag); refused for other normalisations, where it would move every
feature.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from phonelstm.checkpoint import load_checkpoint, save_checkpoint
from phonelstm.errors import PhonelstmError

KEEP = ("config", "symbols", "model", "normalizer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a best.pt/last.pt of phonelstm-train")
    parser.add_argument("out", type=Path, help="the decoding-only model to write")
    parser.add_argument("--wave-scale", type=float, help="set features.wave_scale")
    args = parser.parse_args()
    try:
        ckpt = load_checkpoint(args.checkpoint)
    except PhonelstmError as err:
        sys.exit(f"export_model: {err}")
    features = ckpt["config"]["features"]
    if args.wave_scale is not None:
        if features["normalize"] != "utterance":
            sys.exit(f"export_model: {args.checkpoint}: --wave-scale needs a model with "
                     f"features.normalize=utterance, not {features['normalize']!r}")
        features["wave_scale"] = args.wave_scale
    save_checkpoint(args.out, {key: ckpt[key] for key in KEEP})
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB "
          f"({sum(t.numel() for t in ckpt['model'].values()):,} weights, "
          f"features.wave_scale={features.get('wave_scale', 1.0):g})")


if __name__ == "__main__":
    main()
