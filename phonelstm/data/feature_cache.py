"""On-disk cache of un-normalised per-utterance features, keyed by corpus + feature config.

Layout: ``<root>/<key>/<hash of utterance id>.pt`` where ``key`` hashes the feature config
(everything that changes the extracted values) and the utterance list as the manifests
describe it (ids, audio paths, labels, durations). Another config or an altered manifest gives
another key, so stale features are never read; each entry also records its audio file's size
and mtime and is recomputed when the file changed. Entries are written atomically.
Old keys are not pruned: delete ``<data.dir>/.feature_cache`` to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from phonelstm.config import FeatureConfig
from phonelstm.data.manifest import Utterance
from phonelstm.features import FeatureExtractor
from phonelstm.io import atomic_write

# Settings applied after the cached stage (normalisation, augmentation) do not change the key.
_NOT_KEYED = ("normalize", "cache", "specaugment")


def cache_key(utterances: Sequence[Utterance], cfg: FeatureConfig) -> str:
    features = {k: v for k, v in asdict(cfg).items() if k not in _NOT_KEYED}
    digest = hashlib.sha256(json.dumps(features, sort_keys=True).encode())
    for utt in utterances:
        digest.update(utt.to_json().encode())
    return digest.hexdigest()[:20]


class FeatureCache:
    """Features ``(T, F)`` of the utterances of one corpus split, computed once on the CPU."""

    def __init__(self, root: str | Path, utterances: Sequence[Utterance],
                 cfg: FeatureConfig) -> None:
        self.dir = Path(root) / cache_key(utterances, cfg)
        self.cfg = cfg
        self.extractor = FeatureExtractor(cfg)

    def path(self, utt: Utterance) -> Path:
        return self.dir / f"{hashlib.sha1(utt.id.encode()).hexdigest()}.pt"

    def features(self, utt: Utterance) -> Tensor:
        """Cached features of ``utt``, extracted and stored first when missing or stale."""
        stat = os.stat(utt.audio)
        stamp = [stat.st_size, stat.st_mtime_ns]
        path = self.path(utt)
        if path.is_file():
            entry = torch.load(path, weights_only=True)
            if entry["audio_stamp"] == stamp:
                return entry["feats"]
        wave = utt.load(self.cfg.sample_rate, min_samples=self.extractor.win)
        with torch.no_grad():
            feats, _ = self.extractor(wave.unsqueeze(0), torch.tensor([len(wave)]))
        feats = feats[0].contiguous()  # (T, F)
        self._write(path, {"feats": feats, "audio_stamp": stamp})
        return feats

    def _write(self, path: Path, entry: dict) -> None:
        with atomic_write(path) as tmp:
            torch.save(entry, tmp)
