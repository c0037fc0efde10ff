"""Collect the framewise recipe's results into a Markdown table inside a README.

Reads ``<exp_dir>/<model>/{last.pt,test_frames.json}`` for each model preset and rewrites the
lines between ``<!-- results:<table> -->`` and ``<!-- /results:<table> -->`` in the README::

    python scripts/collect_framewise.py exp/timit_sample --models fw_mlp,fw_blstm \\
        --readme recipes/timit_framewise/README.md --table timit_sample
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

import torch

from phonelstm.checkpoint import load_checkpoint
from phonelstm.io import atomic_write_text

# Test-set frame accuracy (%) of Graves & Schmidhuber (2005), Neural Networks 18(5-6).
PAPER = {"fw_blstm": "~70.2", "fw_brnn": "~69.0", "fw_lstm_delay": "~66", "fw_rnn": "~65",
         "fw_mlp_context": "~63", "fw_mlp": "~51"}


def hardware(config: dict) -> str:
    """The machine the runs used: GPU name, or CPU model with cores and torch threads."""
    if config["trainer"]["device"] != "cpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "CPU")
    threads = config["trainer"]["num_threads"] or torch.get_num_threads()
    return f"{cpu}, {os.cpu_count()} cores, {threads} thread(s)"


def row(run: Path) -> list[str]:
    ckpt = load_checkpoint(run / "last.pt")
    progress = ckpt["progress"]
    weights = sum(t.numel() for t in ckpt["model"].values())
    report = json.loads((run / "test_frames.json").read_text())
    return [run.name, f"{weights:,}", f"{progress['epoch']} ({progress['best_epoch'] + 1})",
            f"{100 - progress['best_metric']:.1f}", f"{report['accuracy_61']:.1f}",
            f"{report['accuracy_39']:.1f}", PAPER.get(run.name, ""),
            f"{progress['train_seconds'] / 60:.1f}", hardware(ckpt["config"])]


def table(exp_dir: Path, models: list[str]) -> str:
    header = ["model", "weights", "epochs (best)", "dev acc. %", "test acc. %",
              "test acc. 39 %", "paper test acc. %", "minutes", "hardware"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in models:
        run = exp_dir / model
        if not (run / "test_frames.json").is_file():
            raise SystemExit(f"{run}: no test_frames.json (did the run finish?)")
        lines.append("| " + " | ".join(row(run)) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", type=Path, help="folder holding one run folder per model")
    parser.add_argument("--models", required=True, help="comma-separated model presets")
    parser.add_argument("--readme", type=Path, required=True)
    parser.add_argument("--table", required=True, help="marker name, e.g. the data set")
    args = parser.parse_args()
    text = args.readme.read_text()
    start, end = f"<!-- results:{args.table} -->", f"<!-- /results:{args.table} -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{args.readme}: no '{start}' ... '{end}' markers to put the table in")
    rows = table(args.exp_dir, args.models.split(","))
    atomic_write_text(args.readme, pattern.sub(lambda _: f"{start}\n{rows}\n{end}", text))
    print(rows)


if __name__ == "__main__":
    main()
