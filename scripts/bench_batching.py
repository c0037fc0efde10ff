"""Measure the length-bucketed batching of a prepared corpus: padding waste, batches, speed.

Usage (from the project root; arguments are phonelstm-train overrides)::

    python scripts/bench_batching.py                      # data=timit_sample
    python scripts/bench_batching.py data=fsdd data.num_workers=2 data.max_frames_per_batch=4000

Prepares the corpus if its manifests are missing, then for ``--epochs`` epochs of the
training split prints the padding waste (padded frames / all frames in the batches), the
number of batches and the DataLoader's utterances per second (audio loading and collation;
features are computed later, on the training device).
"""

from __future__ import annotations

import argparse
import time

from hydra import compose, initialize_config_dir

from phonelstm import cli
from phonelstm.config import TrainConfig, to_dataclass
from phonelstm.data.loader import make_loader
from phonelstm.data.prepare import load_split, prepare_corpus
from phonelstm.phones import Vocabulary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=fsdd")
    args = parser.parse_args()
    overrides = args.overrides if any(o.startswith("data=") for o in args.overrides) \
        else ["data=timit_sample", *args.overrides]
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = to_dataclass(TrainConfig, compose(config_name="train", overrides=overrides))
    prepare_corpus(cfg.data)
    utts = [u for name in cfg.data.train_manifests for u in load_split(cfg.data, name)]
    loader, sampler = make_loader(utts, Vocabulary.for_ctc(), cfg, shuffle=True)
    print(f"{cfg.data.name}: {len(utts)} training utterances, max_frames_per_batch="
          f"{cfg.data.max_frames_per_batch}, max_batch_size={cfg.data.max_batch_size}, "
          f"num_workers={cfg.data.num_workers}")
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        start = time.perf_counter()
        count = sum(len(batch.ids) for batch in loader)
        seconds = time.perf_counter() - start
        print(f"epoch {epoch}: padding waste {100 * sampler.padding_waste():.1f}%, "
              f"{len(sampler)} batches, {count / seconds:.0f} utterances/s")


if __name__ == "__main__":
    main()
