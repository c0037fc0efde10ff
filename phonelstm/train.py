"""``phonelstm-train``: train a recogniser, early-stop on dev, evaluate on test.

With no arguments it prepares the embedded synthetic corpus (if needed), trains a small
BLSTM-CTC on the CPU and prints ``test PER: <x>%`` as its last line. The engine is
``phonelstm.training`` (``loop.train`` reads top to bottom); this module parses the config.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from phonelstm import cli
from phonelstm.config import TrainConfig, to_dataclass
from phonelstm.training.loop import train


@hydra.main(version_base="1.3", config_path=cli.CONF_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    config = to_dataclass(TrainConfig, cfg)
    results: dict[str, float] = {}
    cli.report_errors("phonelstm-train", lambda: results.update(train(config)))
    return results.get("dev")  # the value Hydra sweepers minimise


def main() -> None:
    cli.run("phonelstm-train", "train", _hydra_main)


if __name__ == "__main__":
    main()
