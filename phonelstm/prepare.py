"""``phonelstm-prepare``: turn a corpus into manifests ``<out>/{train,dev,test}.jsonl``.

Examples::

    phonelstm-prepare                         # the embedded synthetic corpus (data=synth)
    phonelstm-prepare data=timit_sample       # a configured corpus
    phonelstm-prepare corpus=timit root=/data/TIMIT out=data/timit
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from phonelstm import cli
from phonelstm.config import DataConfig, PrepareConfig, to_dataclass
from phonelstm.data.corpus import DataError, manifests_exist, write_splits
from phonelstm.data.manifest import SPLITS, Utterance, read_manifest

log = logging.getLogger("phonelstm.prepare")

CORPORA = ("synth", "timit", "fsdd", "manifest", "textgrid", "speechocean762")


def manifest_path(cfg: DataConfig, split: str) -> Path:
    return Path(cfg.dir) / f"{split}.jsonl"


def prepare_corpus(cfg: DataConfig, force: bool = False) -> Path:
    """Prepare ``cfg``'s corpus into ``cfg.dir`` unless its manifests are already there.

    A relative ``data.root`` is taken from the current directory (recipes run from the
    project root). ``corpus=manifest`` without ``data.root`` uses ready manifests in
    ``data.dir`` as they are.
    """
    out = Path(cfg.dir)
    if cfg.corpus == "synth":
        from phonelstm.data.synth import prepare_synth

        prepare_synth(cfg.synth, out, force=force)
        return out
    if cfg.corpus not in CORPORA:
        raise DataError(f"data.corpus={cfg.corpus!r} is not a corpus phonelstm knows "
                        f"({', '.join(CORPORA)})")
    if cfg.corpus == "manifest" and not cfg.root:
        missing = [s for s in SPLITS if not manifest_path(cfg, s).is_file()]
        if missing:
            raise DataError(f"data.dir={out}: no {', '.join(m + '.jsonl' for m in missing)} "
                            "(set data.root to a manifest table, or put train/dev/test "
                            "manifests there)")
        return out
    if manifests_exist(out) and not force:
        log.info("manifests already in %s (force=true to prepare again)", out)
        return out
    if cfg.corpus == "timit":
        from phonelstm.data.timit import prepare_timit

        splits = prepare_timit(cfg.timit, cfg.root)
    elif cfg.corpus == "fsdd":
        from phonelstm.data.fsdd import prepare_fsdd

        splits = prepare_fsdd(cfg.fsdd, cfg.root)
    elif cfg.corpus == "speechocean762":
        from phonelstm.data.speechocean762 import prepare_speechocean762

        splits = prepare_speechocean762(cfg.speechocean762, cfg.root, out)
    else:
        from phonelstm.data.aligned import prepare_aligned

        splits = prepare_aligned(cfg.aligned, cfg.root, cfg.corpus)
    write_splits(out, splits)
    return out


def load_split(cfg: DataConfig, split: str) -> list[Utterance]:
    """Read one prepared split; a missing data folder is a clear error, not a traceback."""
    path = manifest_path(cfg, split)
    if not Path(cfg.dir).is_dir():
        raise DataError(f"data.dir={cfg.dir}: folder not found (run phonelstm-prepare "
                        f"data={cfg.name} first, or set data.dir)")
    return read_manifest(path)


@hydra.main(version_base="1.3", config_path=cli.CONF_DIR, config_name="prepare")
def _hydra_main(cfg: DictConfig) -> None:
    command = to_dataclass(PrepareConfig, cfg)

    def task() -> None:
        data = command.resolved()
        out = prepare_corpus(data, force=command.force)
        for split in SPLITS:
            utts = read_manifest(manifest_path(data, split))
            hours = sum(u.duration or 0.0 for u in utts) / 3600
            speakers = len({u.speaker for u in utts})
            print(f"{split}: {len(utts)} utterances, {speakers} speakers, {hours:.2f} h")
        print(f"manifests in {out}")

    cli.report_errors("phonelstm-prepare", task)


def main() -> None:
    cli.run("phonelstm-prepare", "prepare", _hydra_main)


if __name__ == "__main__":
    main()
