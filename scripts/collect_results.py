"""Tabulate the ``results.json`` files of experiment folders into a README.

    python scripts/collect_results.py exp/timit --readme recipes/timit_ctc/README.md
    python scripts/collect_results.py exp/timit/cells --readme recipes/timit_ctc/README.md \\
        --marker cells

Every ``results.json`` under the given folders (``phonelstm-train`` writes one beside its
checkpoints) becomes a row, and so does a folder of evaluation reports only (a peer system
scored by ``phonelstm-evaluate hyp= ref=``, named by its folder); the table replaces what
lies between ``<!-- <marker>:begin -->`` and ``<!-- <marker>:end -->`` in the README
(written atomically), or is printed without ``--readme``. Full-TIMIT rows whose model
matches a ``conf/model`` preset of Graves et al. (2013) Table 1 show the paper's core-test
PER beside ours. Digit accuracy
(``scripts/score_digits.py``: free decoding and the ten-digit grammar) and the PER of other
evaluation sets (``phonelstm-evaluate ... out=<run>/<set>_beam<N>``, sets ``EVAL_SETS``) found
in a run folder get their own columns.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from omegaconf import OmegaConf
from paper_table import PAPER_TABLE1

from phonelstm.cli import CONF_DIR
from phonelstm.config import ModelConfig, to_dataclass
from phonelstm.io import atomic_write_text

COLUMNS = ("experiment", "model", "weights", "optim", "noise", "epochs", "hours", "device",
           "dev greedy", "dev beam", "test greedy", "test beam", "paper test")
DIGIT_COLUMNS = ("test digits greedy", "test digits beam", "test digits grammar")
# phonelstm-evaluate reports written into a run folder as <set>_beam<N>/summary.json
EVAL_SETS = ("timit_sample", "librispeech_dev", "librispeech_test", "speechocean762_dev",
             "speechocean762_test")
EVAL_COLUMNS = tuple(f"{name} {kind}" for name in EVAL_SETS for kind in ("greedy", "beam"))


def model_key(row: dict) -> tuple:
    return (row["cell"], row["layers"], row["hidden"], row["bidirectional"], row["proj_size"])


def percent(row: dict, key: str) -> str:
    return f"{row[key]:.1f}%" if key in row else "-"


def paper_per_by_model() -> dict[tuple, str]:
    """Paper PER keyed like ``model_key``, from the presets named in ``PAPER_TABLE1``."""
    table = {}
    for preset, (name, _, _, per) in PAPER_TABLE1.items():
        cfg = to_dataclass(ModelConfig, OmegaConf.load(Path(CONF_DIR, "model", f"{preset}.yaml")))
        key = (cfg.cell, cfg.layers, cfg.hidden, cfg.bidirectional, cfg.proj_size)
        table[key] = f"{per:.1f}% ({name})"
    return table


def greedy_and_beam(found: Iterable[tuple[int, float]]) -> tuple[str, str]:
    """(greedy, beam) percentages from (beam width, value) pairs; "-" where one is missing."""
    out = {"greedy": "-", "beam": "-"}
    for beam, value in found:
        out["greedy" if beam <= 1 else "beam"] = f"{value:.1f}%"
    return out["greedy"], out["beam"]


def digit_accuracy(folder: Path) -> tuple[str, str, str]:
    """Test digit accuracy (greedy, beam, ten-digit grammar) from ``scripts/score_digits.py``
    outputs, if any."""
    reports = [json.loads(p.read_text()) for p in folder.glob("digits_test_beam*.json")]
    grammar = [f"{r['grammar_accuracy']:.1f}%" for r in reports if "grammar_accuracy" in r]
    return (*greedy_and_beam((r["beam"], r["digit_accuracy"]) for r in reports),
            grammar[0] if grammar else "-")


def evaluated_per(folder: Path, corpus: str) -> tuple[str, str]:
    """PER (greedy, beam) of ``phonelstm-evaluate`` reports ``<corpus>_beam<N>/`` in ``folder``."""
    return greedy_and_beam((int(p.parent.name.rsplit("_beam", 1)[1]),
                            json.loads(p.read_text())["per"])
                           for p in folder.glob(f"{corpus}_beam*/summary.json"))


def run_folders(folders: list[Path]) -> list[Path]:
    """Folders with a ``results.json``, or with evaluation reports only."""
    found = {p.parent for folder in folders for p in folder.rglob("results.json")}
    found |= {p.parent.parent for folder in folders for name in EVAL_SETS
              for p in folder.rglob(f"{name}_beam*/summary.json")}
    return sorted(found)


def table(folders: list[Path]) -> str:
    paper = paper_per_by_model()
    rows = []
    for folder in run_folders(folders):
        evaluated = [per for name in EVAL_SETS for per in evaluated_per(folder, name)]
        if not (folder / "results.json").is_file():
            rows.append((str(folder), folder.name, *["-"] * (len(COLUMNS) - 2),
                         *digit_accuracy(folder), *evaluated))
            continue
        r = json.loads((folder / "results.json").read_text())
        noise = f"{r['weight_noise']:g}" if r.get("weight_noise") else "-"
        rows.append((str(folder), r["model"].split(":")[0], f"{r['weights'] / 1e6:.2f}M",
                     r["optim"], noise, f"{r['epochs']:g}", f"{r['hours']:.2f}", r["device"],
                     *(percent(r, key) for key in ("dev_greedy", "dev_beam", "test_greedy",
                                                    "test_beam")),
                     paper.get(model_key(r), "-") if r["data"] == "timit" else "-",
                     *digit_accuracy(folder), *evaluated))
    columns = list(COLUMNS + DIGIT_COLUMNS + EVAL_COLUMNS)
    # the paper's figure (full TIMIT only), digit accuracy and other sets' PER: dropped when
    # no row has them
    for name in ("paper test", *DIGIT_COLUMNS, *EVAL_COLUMNS):
        index = columns.index(name)
        if all(row[index] == "-" for row in rows):
            del columns[index]
            rows = [row[:index] + row[index + 1:] for row in rows]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def replace_between_markers(text: str, marker: str, body: str) -> str:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"no '{begin}' ... '{end}' markers")
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--readme", type=Path)
    parser.add_argument("--marker", default="results")
    args = parser.parse_args()
    body = table(args.folders)
    if args.readme is None:
        print(body)
        return
    try:
        text = replace_between_markers(args.readme.read_text(), args.marker, body)
    except (OSError, ValueError) as err:
        sys.exit(f"collect_results: {args.readme}: {err}")
    atomic_write_text(args.readme, text)
    print(f"{body.count(chr(10)) - 1} result rows written to {args.readme}")


if __name__ == "__main__":
    main()
