"""Turn a training checkpoint into a model for decoding only, as shipped in the package.

    python scripts/export_model.py exp/speechocean762/free_english_ctc_noise/best.pt \\
        exp/speechocean762/free_english_ctc_noise/free_english_ctc.pt
    python scripts/export_model.py old_model/best.pt old_model/export.pt --wave-scale 32768
    python scripts/export_model.py run2/best.pt model.pt --average run2/last.pt run1/best.pt

Keeps what ``Recognizer`` reads (format, version, config, symbols, model weights, feature
statistics) and drops what only resuming needs (optimizer, scheduler, RNG states,
progress): about a third of the size. Written atomically; the result loads with
``Recognizer.from_checkpoint`` like any checkpoint.

``--average`` ships the mean of the weights of the checkpoint and the ones it names
(checkpoint averaging, as ESPnet's ``average_checkpoints`` and icefall's ``--avg`` do: the
mean of nearby points of one training run generalises better than either; the
free_english_ctc recipe ships the mean of phase 1's best checkpoint and the best and last of
each of its four phase-2 runs). They must share the model, feature and phone configuration
and the feature statistics; the first checkpoint gives the rest.

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
from typing import Any

import torch
from torch import Tensor

from phonelstm.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from phonelstm.errors import PhonelstmError

KEEP = ("config", "symbols", "model", "normalizer")


def average_weights(ckpt: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Tensor]:
    """The mean of ``ckpt``'s weights and ``others``'; ``CheckpointError`` naming the file
    when one differs in model, features, phones or feature statistics."""
    for other in others:
        for what, a, b in (("model", ckpt["config"]["model"], other["config"]["model"]),
                           ("features", ckpt["config"]["features"],
                            other["config"]["features"]),
                           ("phones", ckpt["symbols"], other["symbols"])):
            if a != b:
                raise CheckpointError(f"{other['path']}: its {what} configuration differs "
                                      f"from {ckpt['path']}'s: cannot average them")
        stats = ckpt["normalizer"]
        if any(not torch.equal(stats[k], other["normalizer"][k]) for k in stats):
            raise CheckpointError(f"{other['path']}: its feature statistics differ from "
                                  f"{ckpt['path']}'s: cannot average them")
    weights = [ckpt["model"]] + [other["model"] for other in others]
    return {key: torch.stack([w[key].float() for w in weights]).mean(0).to(w0.dtype)
            for key, w0 in ckpt["model"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a best.pt/last.pt of phonelstm-train")
    parser.add_argument("out", type=Path, help="the decoding-only model to write")
    parser.add_argument("--wave-scale", type=float, help="set features.wave_scale")
    parser.add_argument("--average", type=Path, nargs="+", default=[], metavar="CHECKPOINT",
                        help="ship the mean of the weights of these checkpoints and the first")
    args = parser.parse_args()
    try:
        ckpt = load_checkpoint(args.checkpoint)
        if args.average:
            ckpt["model"] = average_weights(ckpt, [load_checkpoint(p) for p in args.average])
    except PhonelstmError as err:
        sys.exit(f"export_model: {err}")
    features = ckpt["config"]["features"]
    if args.wave_scale is not None:
        if features["normalize"] != "utterance":
            sys.exit(f"export_model: {args.checkpoint}: --wave-scale needs a model with "
                     f"features.normalize=utterance, not {features['normalize']!r}")
        features["wave_scale"] = args.wave_scale
    save_checkpoint(args.out, {key: ckpt[key] for key in KEEP})
    averaged = f", the mean of {len(args.average) + 1} checkpoints" if args.average else ""
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB "
          f"({sum(t.numel() for t in ckpt['model'].values()):,} weights{averaged}, "
          f"features.wave_scale={features.get('wave_scale', 1.0):g})")


if __name__ == "__main__":
    main()
