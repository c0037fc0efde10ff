"""``phonelstm-prepare``: turn a corpus into manifests ``<out>/{train,dev,test}.jsonl``.

Examples::

    phonelstm-prepare                         # the embedded synthetic corpus (data=synth)
    phonelstm-prepare data=timit_sample       # a configured corpus
    phonelstm-prepare corpus=timit root=/data/TIMIT out=data/timit
    phonelstm-prepare data=fsdd export=lhotse  # also as Lhotse manifests in data/fsdd/lhotse/
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from phonelstm import cli
from phonelstm.config import PrepareConfig, to_dataclass
from phonelstm.data.manifest import SPLITS, read_manifest
from phonelstm.data.prepare import check_export, export_corpus, manifest_path, prepare_corpus


@hydra.main(version_base="1.3", config_path=cli.CONF_DIR, config_name="prepare")
def _hydra_main(cfg: DictConfig) -> None:
    command = to_dataclass(PrepareConfig, cfg)

    def task() -> None:
        data = command.resolved()
        if command.export:
            check_export(command.export)
        out = prepare_corpus(data, force=command.force)
        for split in SPLITS:
            utts = read_manifest(manifest_path(data, split), allow_empty=True)
            hours = sum(u.duration or 0.0 for u in utts) / 3600
            speakers = len({u.speaker for u in utts})
            print(f"{split}: {len(utts)} utterances, {speakers} speakers, {hours:.2f} h")
        print(f"manifests in {out}")
        if command.export:
            print(f"{command.export} manifests in {export_corpus(data, command.export)}")

    cli.report_errors("phonelstm-prepare", task)


def main() -> None:
    cli.run("phonelstm-prepare", "prepare", _hydra_main)


if __name__ == "__main__":
    main()
