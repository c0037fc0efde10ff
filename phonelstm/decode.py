"""``phonelstm-decode checkpoint=<ckpt> input=<audio>``: print the recognised phones with times."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from phonelstm import cli
from phonelstm.config import DecodeConfig, to_dataclass
from phonelstm.recognizer import Recognizer
from phonelstm.train import resolve_device


def decode(cfg: DecodeConfig) -> None:
    recognizer = Recognizer.from_checkpoint(cfg.checkpoint, str(resolve_device(cfg.device)))
    phones = recognizer.transcribe(cfg.input)
    print(" ".join(p.phone for p in phones))
    for p in phones:
        print(f"{p.start:.3f}\t{p.end:.3f}\t{p.phone}")


@hydra.main(version_base="1.3", config_path=cli.CONF_DIR, config_name="decode")
def _hydra_main(cfg: DictConfig) -> None:
    cli.report_errors("phonelstm-decode", lambda: decode(to_dataclass(DecodeConfig, cfg)))


def main() -> None:
    cli.run("phonelstm-decode", "decode", _hydra_main)


if __name__ == "__main__":
    main()
