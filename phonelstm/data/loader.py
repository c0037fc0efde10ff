"""The batches a command iterates: dataset, length-bucketed sampler and ``DataLoader``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from phonelstm.config import TrainConfig
from phonelstm.data.dataset import BucketBatchSampler, SpeechDataset, collate, utterance_frames
from phonelstm.data.feature_cache import FeatureCache
from phonelstm.data.manifest import Utterance
from phonelstm.phones import Vocabulary


def make_loader(utts: list[Utterance], vocab: Vocabulary, cfg: TrainConfig, shuffle: bool,
                rank: int = 0, num_replicas: int = 1, length_quantum: int = 1
                ) -> tuple[DataLoader, BucketBatchSampler]:
    """Batches of ``utts``; with several replicas, this rank's shard of every batch.

    ``length_quantum``: batches are packed by lengths rounded up to a multiple of it, the
    static shapes of the fast training path (``phonelstm.training.step.StaticShapes``).
    """
    framewise = cfg.trainer.task == "framewise"
    cache = (FeatureCache(Path(cfg.data.dir) / ".feature_cache", utts, cfg.features)
             if cfg.features.cache else None)
    dataset = SpeechDataset(utts, vocab, cfg.features, with_frame_labels=framewise, cache=cache)
    sampler = BucketBatchSampler(utterance_frames(utts, cfg.features),
                                 cfg.data.max_frames_per_batch, cfg.data.max_batch_size,
                                 shuffle=shuffle, seed=cfg.trainer.seed,
                                 bucket_width=cfg.data.bucket_width,
                                 num_replicas=num_replicas, rank=rank,
                                 length_quantum=length_quantum)
    # a private generator: creating an iterator must not draw from the global RNG, whose
    # state the checkpoint restores for exact resume (dropout, weight noise)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                        num_workers=cfg.data.num_workers, pin_memory=torch.cuda.is_available(),
                        generator=torch.Generator().manual_seed(cfg.trainer.seed))
    return loader, sampler
