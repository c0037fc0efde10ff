"""Weight counts of every ``conf/model`` preset beside Graves et al. (2013) Table 1.

    python scripts/weight_counts.py [--inputs 123] [--outputs 62]

Defaults: 123 fbank inputs (40 mel + energy, deltas, delta-deltas) and 62 outputs
(61 TIMIT phones + CTC blank), as in the paper.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from omegaconf import OmegaConf
from paper_table import PAPER_TABLE1

from phonelstm.cli import CONF_DIR
from phonelstm.config import ModelConfig, to_dataclass
from phonelstm.model import build_model, count_parameters, describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=123)
    parser.add_argument("--outputs", type=int, default=62)
    args = parser.parse_args()
    print(f"{'preset':<18} {'ours':>10}  {'paper':>6}  {'paper row':<17} model")
    for path in sorted(Path(CONF_DIR, "model").glob("*.yaml")):
        cfg = to_dataclass(ModelConfig, OmegaConf.load(path))
        model = build_model(cfg, args.inputs, args.outputs)
        row, weights, _, _ = PAPER_TABLE1.get(path.stem, ("", None, 0, 0.0))
        paper = f"{weights:.1f}M" if weights else "-"
        print(f"{path.stem:<18} {count_parameters(model) / 1e6:>9.2f}M  {paper:>6}  "
              f"{row:<17} {describe(model)}")


if __name__ == "__main__":
    main()
