"""Prepared corpora: build a corpus's manifests once, read a prepared split.

Used by ``phonelstm-prepare`` and by training; logs as ``phonelstm.prepare``, the command
that names this step.
"""

from __future__ import annotations

import logging
from pathlib import Path

from phonelstm.config import DataConfig
from phonelstm.data.corpus import DataError, manifests_exist, write_splits
from phonelstm.data.manifest import SPLITS, Utterance, read_manifest

log = logging.getLogger("phonelstm.prepare")

CORPORA = ("synth", "timit", "fsdd", "speechocean762", "librispeech", "manifest", "textgrid",
           "lhotse")
EXPORTS = ("lhotse",)


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
        from phonelstm.data.synth.corpus import prepare_synth

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

        splits = prepare_fsdd(cfg.fsdd, cfg.lexicon, cfg.root)
    elif cfg.corpus == "speechocean762":
        from phonelstm.data.speechocean762 import prepare_speechocean762

        splits = prepare_speechocean762(cfg.speechocean762, cfg.root, out, cfg.lexicon)
    elif cfg.corpus == "librispeech":
        from phonelstm.data.librispeech import prepare_librispeech

        splits = prepare_librispeech(cfg.librispeech, cfg.lexicon, cfg.root, out)
    elif cfg.corpus == "lhotse":
        from phonelstm.data.lhotse_in import prepare_lhotse

        splits = prepare_lhotse(cfg.lhotse, cfg.root)
    else:
        from phonelstm.data.aligned import prepare_aligned

        splits = prepare_aligned(cfg.aligned, cfg.root, cfg.corpus, cfg.lexicon)
    write_splits(out, splits)
    return out


def load_split(cfg: DataConfig, split: str) -> list[Utterance]:
    """Read one prepared split; a missing data folder is a clear error, not a traceback."""
    path = manifest_path(cfg, split)
    if not Path(cfg.dir).is_dir():
        raise DataError(f"data.dir={cfg.dir}: folder not found (run phonelstm-prepare "
                        f"data={cfg.name} first, or set data.dir)")
    return read_manifest(path, allow_empty=True)


def check_export(fmt: str) -> None:
    """An export format phonelstm has, with its package installed: checked before preparing."""
    if fmt not in EXPORTS:
        raise DataError(f"export={fmt}: phonelstm exports {', '.join(EXPORTS)}")
    from phonelstm.data.lhotse_in import require_lhotse

    require_lhotse(f"export={fmt}")


def export_corpus(cfg: DataConfig, fmt: str) -> Path:
    """Write the prepared splits of ``cfg`` in another toolkit's format under ``<dir>/<fmt>``."""
    check_export(fmt)
    from phonelstm.data.lhotse_out import export_lhotse

    splits = {split: load_split(cfg, split) for split in SPLITS}
    return export_lhotse(splits, Path(cfg.dir) / fmt, cfg.name)
