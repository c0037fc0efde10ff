"""Length-bucketed batching on the TIMIT sample's layout: padding waste, bounds, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from phonelstm import cli
from phonelstm.config import TrainConfig, to_dataclass
from phonelstm.data.dataset import BucketBatchSampler, utterance_frames
from phonelstm.data.prepare import load_split, prepare_corpus

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample_config(timit_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainConfig:
    """The shipped ``data=timit_sample`` config on the sample tree, prepared into a temp dir."""
    out = tmp_path_factory.mktemp("timit_sample")
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "data=timit_sample", f"data.root={timit_sample}", f"data.dir={out}"])
    cfg = to_dataclass(TrainConfig, cfg)
    prepare_corpus(cfg.data)
    return cfg


def sampler_for(cfg: TrainConfig, seed: int = 0) -> BucketBatchSampler:
    lengths = utterance_frames(load_split(cfg.data, "train"), cfg.features)
    return BucketBatchSampler(lengths, cfg.data.max_frames_per_batch, cfg.data.max_batch_size,
                              shuffle=True, seed=seed)


def test_padding_waste_below_10_percent_on_sample(sample_config: TrainConfig) -> None:
    sampler = sampler_for(sample_config)
    for epoch in range(5):
        sampler.set_epoch(epoch)
        assert sampler.padding_waste() < 0.10
        assert len(sampler) > 1


def test_batches_cover_every_utterance_within_the_frame_bound(sample_config: TrainConfig) -> None:
    sampler = sampler_for(sample_config)
    batches = sampler.batches()
    assert sorted(i for b in batches for i in b) == list(range(len(sampler.lengths)))
    for batch in batches:
        longest = max(sampler.lengths[i] for i in batch)
        assert len(batch) == 1 or longest * len(batch) <= sample_config.data.max_frames_per_batch


def test_shuffling_is_deterministic_per_seed_and_epoch(sample_config: TrainConfig) -> None:
    first, again, other = sampler_for(sample_config), sampler_for(sample_config), \
        sampler_for(sample_config, seed=1)
    assert first.batches() == again.batches()
    assert first.batches() != other.batches()
    again.set_epoch(1)
    assert first.batches() != again.batches()


def test_bench_script_prints_waste_batches_and_speed(sample_config: TrainConfig) -> None:
    result = subprocess.run(
        [sys.executable, "scripts/bench_batching.py", "--epochs", "1",
         f"data.dir={sample_config.data.dir}", "data.num_workers=2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "num_workers=2" in result.stdout
    assert "epoch 0: padding waste" in result.stdout and "utterances/s" in result.stdout
