"""Hydra entry-point plumbing shared by the ``phonelstm-*`` commands.

Before Hydra runs, the command line is composed once against the config tree and converted
to the command's dataclass, so that an unknown key (also one added with ``+``), a value of
the wrong type or an unknown group option gives one clear line and exit code 2 instead of
Hydra's multi-line report; inside the task, ``PhonelstmError`` becomes one line and exit
code 1. ``--help`` prints the command's usage, examples and keys (from the dataclasses and
their comments in ``phonelstm.config``); Hydra's own help stays under ``--hydra-help``.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import get_type_hints

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, MissingConfigException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException, ValidationError

from phonelstm import config
from phonelstm.errors import PhonelstmError

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")

SCHEMAS = {"train": config.TrainConfig, "prepare": config.PrepareConfig,
           "decode": config.DecodeConfig, "evaluate": config.EvaluateConfig}
EXAMPLES = {
    "train": ["phonelstm-train                        # the embedded default (make demo)",
              "phonelstm-train experiment=fsdd_ctc data.root=/data/fsdd",
              "phonelstm-train data=timit data.root=/corpora/timit model=blstm_5x250 "
              "optim=paper"],
    "prepare": ["phonelstm-prepare                      # the synthetic corpus in data/synth",
                "phonelstm-prepare corpus=timit root=/corpora/timit",
                "phonelstm-prepare corpus=manifest root=my_corpus.tsv out=data/mine"],
    "decode": ["phonelstm-decode input=rec.wav                  # the shipped English model",
               "phonelstm-decode checkpoint=exp/synth/ctc_lstm_3x192_fbank/best.pt input=rec.wav",
               "phonelstm-decode checkpoint=best.pt input=recordings/ out=decoded "
               "'format=[txt,ctm,textgrid]'",
               "phonelstm-decode checkpoint=best.pt input=data/timit/test.jsonl align=true "
               "out=aligned format=textgrid"],
    "evaluate": ["phonelstm-evaluate checkpoint=best.pt data=data/synth/test.jsonl out=report",
                 "phonelstm-evaluate hyp=decoded/phones.txt ref=ref.txt out=report",
                 "phonelstm-evaluate checkpoint=best.pt data=test.jsonl beam=16 "
                 "score_phones=61"],
}


def fail(command: str, message: str, code: int = 1) -> None:
    print(f"{command}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _compose_error(err: Exception) -> str:
    """Hydra's and OmegaConf's multi-line reports as one line."""
    cause = err.__cause__ or err
    text = str(cause).strip()
    if isinstance(cause, ValidationError):
        key = re.search(r"full_key: (\S+)", text)
        value = re.search(r"Value '([^']*)'", text)
        kind = re.search(r"converted to (\w+)|not a valid (\w+)", text)
        if key and value and kind:
            expected = (kind.group(1) or kind.group(2)).lower().replace("integer", "an integer")
            expected = {"bool": "true or false", "float": "a number"}.get(expected, expected)
            return f"{key.group(1)}={value.group(1)}: expected {expected}"
    if isinstance(err, MissingConfigException) and "Available options" in text:
        found = re.search(r"Could not find '([^']+)/([^']+)'", text)
        options = re.findall(r"^\t(\S+)$", text.split("Available options", 1)[1], re.M)
        if found:
            return (f"{found.group(1)}={found.group(2)}: no such option; available: "
                    + ", ".join(options))
    key = re.search(r"Key '(\w+)' not in '\w+'\s+full_key: (\S+)", text)
    if key:
        return f"unknown config key {key.group(2)}"
    return " ".join(line.strip() for line in text.splitlines()[:3] if line.strip())


def _check_overrides(command: str, config_name: str, args: list[str], config_dir: str) -> None:
    if any(a.startswith("-") for a in args):  # --multirun, --cfg...: Hydra's own
        return
    try:
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=args)
    except (HydraException, OmegaConfBaseException) as err:
        fail(command, f"bad config override ({_compose_error(err)})", code=2)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        fail(command, "missing required setting(s): "
             + ", ".join(f"{key}=<value>" for key in missing), code=2)
    try:  # keys added with '+' pass Hydra's schema check: the dataclasses have the last word
        config.to_dataclass(SCHEMAS[config_name], cfg)
    except config.ConfigError as err:
        fail(command, str(err), code=2)


def run(command: str, config_name: str, hydra_main: Callable[[], None],
        config_dir: str = CONF_DIR) -> None:
    """Validate ``sys.argv`` overrides, then run the Hydra-decorated ``hydra_main``."""
    args = sys.argv[1:]
    if "--help" in args or "-h" in args:
        print(help_text(command, config_name, sys.modules[hydra_main.__module__].__doc__ or "",
                        config_dir))
        raise SystemExit(0)
    if "--hydra-help" in args:
        sys.argv[sys.argv.index("--hydra-help")] = "--help"
    _check_overrides(command, config_name, args, config_dir)
    hydra_main()


def report_errors(command: str, task: Callable[[], None]) -> None:
    """Run ``task``; a ``PhonelstmError`` is printed as one line and exits with code 1."""
    try:
        task()
    except PhonelstmError as err:
        fail(command, str(err))
    except KeyboardInterrupt:
        fail(command, "interrupted", code=130)


def field_comments(cls: type) -> dict[str, str]:
    """The comment of each field of a config dataclass: on its line, or the lines above."""
    comments: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        text = line.strip()
        if text.startswith("#"):
            above.append(text.lstrip("# "))
            continue
        match = re.match(r"(\w+): [^#]*?(?:  # (.*))?$", text)
        if match:
            comments[match.group(1)] = " ".join([*above, match.group(2) or ""]).strip()
        above = []
    return comments


def _yaml(value: object) -> str:
    """A default as it would be typed on the command line."""
    if isinstance(value, list):
        return "[" + ",".join(map(_yaml, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_yaml(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _default(f) -> str:
    return _yaml(f.default if f.default is not MISSING else f.default_factory())


def _keys(cls: type, prefix: str = "") -> list[str]:
    """``key = default  meaning`` lines of a dataclass, nested ones flattened with dots."""
    lines, nested = [], []
    comments, hints = field_comments(cls), get_type_hints(cls)
    for f in fields(cls):
        if is_dataclass(hints[f.name]):
            nested.append((f.name, hints[f.name]))
            continue
        key = f"  {prefix}{f.name} = {_default(f)}"
        comment = comments.get(f.name, "")
        lines.append(f"{key:<44} {comment}".rstrip() if comment else key)
    for name, kind in nested:
        lines += _keys(kind, f"{prefix}{name}.")
    return lines


def help_text(command: str, config_name: str, doc: str, config_dir: str) -> str:
    """What ``phonelstm-<command> --help`` prints."""
    groups = sorted(p.name for p in Path(config_dir).iterdir() if p.is_dir()
                    and any(p.glob("*.yaml")) and p.name not in SCHEMAS)
    group_lines = [f"  {g}=" + " | ".join(sorted(y.stem for y in Path(config_dir, g).glob(
        "*.yaml"))) for g in groups if config_name in ("train", "prepare") and (
        config_name == "train" or g == "data")]
    parts = [f"usage: {command} [KEY=VALUE ...]" + (" [GROUP=OPTION ...]" if group_lines
                                                     else ""),
             "", doc.strip().split("\n\n")[0].replace("``", ""), "", "examples:",
             *(f"  {e}" for e in EXAMPLES[config_name])]
    if group_lines:
        parts += ["", "config groups (GROUP=OPTION: a preset file from conf/GROUP/):",
                  *group_lines]
    parts += ["", "keys (KEY=VALUE; default after '='; lists as 'key=[a,b]'):",
              *_keys(SCHEMAS[config_name]),
              "", "Hydra's own options: --hydra-help; print the composed config: --cfg job"]
    return "\n".join(parts)
