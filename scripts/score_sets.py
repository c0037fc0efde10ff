"""Score one checkpoint on several manifests, loading the model once (a recipe's eval sets).

    python scripts/score_sets.py best.pt exp/run timit=data/timit/test.jsonl:1,16 \\
        dev=data/librispeech/dev.jsonl --digits data/fsdd_free/test.jsonl

Each ``<name>=<manifest>[:<beam>,<beam>...]`` (default beam 16) gets the report of
``phonelstm-evaluate checkpoint=<ckpt> data=<manifest> beam=<N> plot_utterances=0`` in
``<out>/<name>_beam<N>/`` (replaced when it exists). ``--digits <manifest>`` adds
``scripts/score_digits.py``'s figures, greedy and beam 16, in
``<out>/digits_<manifest name>_beam<N>.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from score_digits import score_digits

from phonelstm import cli
from phonelstm.config import EvaluateConfig
from phonelstm.data.manifest import read_manifest
from phonelstm.device import resolve_device
from phonelstm.evaluate import evaluate
from phonelstm.recognizer import Recognizer


def parse_set(spec: str) -> tuple[str, Path, list[int]]:
    """``name=manifest[:beam,beam...]`` -> (name, manifest, beams)."""
    name, sep, rest = spec.partition("=")
    manifest, _, beams = rest.partition(":")
    try:
        widths = [int(b) for b in beams.split(",")] if beams else [16]
    except ValueError:
        widths = []
    if not (sep and name and manifest and widths and min(widths) >= 1):
        raise argparse.ArgumentTypeError(
            f"{spec!r}: expected <name>=<manifest.jsonl>[:<beam>,<beam>...], beams >= 1")
    return name, Path(manifest), widths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path, help="folder for the reports")
    parser.add_argument("sets", nargs="*", type=parse_set,
                        help="<name>=<manifest.jsonl>[:<beam>,<beam>...] (default beam 16)")
    parser.add_argument("--digits", type=Path, help="a manifest of digit recordings")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    def score() -> None:
        recognizer = Recognizer.from_checkpoint(args.checkpoint,
                                                str(resolve_device(args.device)))
        for name, manifest, beams in args.sets:
            for beam in beams:
                evaluate(EvaluateConfig(
                    checkpoint=str(args.checkpoint), data=str(manifest), beam=beam,
                    out=str(args.out / f"{name}_beam{beam}"), overwrite=True,
                    plot_utterances=0), recognizer)
        if args.digits:
            score_digits(recognizer, read_manifest(args.digits), args.digits.stem, [1, 16],
                         args.out)

    cli.report_errors("score_sets", score)


if __name__ == "__main__":
    main()
