"""Hydra entry-point plumbing shared by the ``phonelstm-*`` commands.

Before Hydra runs, the command line is composed once against the config tree so that an
unknown key or a bad value gives one clear line and exit code 2 instead of Hydra's
multi-line report; inside the task, ``PhonelstmError`` becomes one line and exit code 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from phonelstm.errors import PhonelstmError

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def fail(command: str, message: str, code: int = 1) -> None:
    print(f"{command}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _check_overrides(command: str, config_name: str, args: list[str], config_dir: str) -> None:
    if any(a.startswith("-") for a in args):  # --multirun, --help, --cfg...: Hydra's own
        return
    try:
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=args)
    except (HydraException, OmegaConfBaseException) as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3] if line.strip())
        fail(command, f"bad config override ({detail})", code=2)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        fail(command, "missing required setting(s): "
             + ", ".join(f"{key}=<value>" for key in missing), code=2)


def run(command: str, config_name: str, hydra_main: Callable[[], None],
        config_dir: str = CONF_DIR) -> None:
    """Validate ``sys.argv`` overrides, then run the Hydra-decorated ``hydra_main``."""
    _check_overrides(command, config_name, sys.argv[1:], config_dir)
    hydra_main()


def report_errors(command: str, task: Callable[[], None]) -> None:
    """Run ``task``; a ``PhonelstmError`` is printed as one line and exits with code 1."""
    try:
        task()
    except PhonelstmError as err:
        fail(command, str(err))
    except KeyboardInterrupt:
        fail(command, "interrupted", code=130)
