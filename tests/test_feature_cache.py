"""The feature cache: invalidation on config/corpus/audio changes, identical training."""

import os
import shutil
from dataclasses import replace
from functools import partial

import torch

import phonelstm.data.manifest as manifest
from phonelstm.checkpoint import load_checkpoint
from phonelstm.config import (
    DataConfig,
    FeatureConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    TrainerConfig,
)
from phonelstm.data.dataset import SpeechDataset, collate
from phonelstm.data.feature_cache import FeatureCache
from phonelstm.data.manifest import read_manifest, write_manifest
from phonelstm.features import FeatureExtractor
from phonelstm.phones import TIMIT61, Vocabulary
from phonelstm.training.loop import train


def _counting_loads(monkeypatch):
    calls = []
    real = manifest.load_audio  # Utterance.load, which the cache reads audio through

    def load(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(manifest, "load_audio", load)
    return calls


def test_cache_is_reused_and_invalidated_by_config_corpus_and_audio(sample_corpus, tmp_path,
                                                                     monkeypatch):
    utts = read_manifest(sample_corpus / "train.jsonl")[:2]
    shutil.copy(utts[0].audio, tmp_path / "a.wav")
    utts[0].audio = str(tmp_path / "a.wav")
    cfg = FeatureConfig()
    loads = _counting_loads(monkeypatch)
    root = tmp_path / ".feature_cache"

    first = FeatureCache(root, utts, cfg).features(utts[0])
    wave = manifest.load_audio(utts[0].audio)
    direct, _ = FeatureExtractor(cfg)(wave.unsqueeze(0), torch.tensor([len(wave)]))
    assert torch.equal(first, direct[0])
    assert len(loads) == 2
    again = FeatureCache(root, utts, replace(cfg, normalize="utterance")).features(utts[0])
    assert torch.equal(again, first) and len(loads) == 2  # normalisation is not keyed: reused

    fewer_mels = FeatureCache(root, utts, replace(cfg, n_mels=30)).features(utts[0])
    assert fewer_mels.shape[1] == 93 and len(loads) == 3

    altered = [replace(utts[0], phones=utts[0].phones[:-1]), utts[1]]  # manifest change
    assert FeatureCache(root, altered, cfg).dir != FeatureCache(root, utts, cfg).dir
    FeatureCache(root, altered, cfg).features(utts[0])
    assert len(loads) == 4

    stat = os.stat(utts[0].audio)  # the audio file changed (touched)
    os.utime(utts[0].audio, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    FeatureCache(root, utts, cfg).features(utts[0])
    assert len(loads) == 5
    FeatureCache(root, utts, cfg).features(utts[0])
    assert len(loads) == 5
    assert not list(root.rglob(".*.pt.*"))  # no temp files left behind


def test_cached_dataset_yields_features_instead_of_waveforms(sample_corpus, tmp_path):
    utts = read_manifest(sample_corpus / "train.jsonl")[:2]
    cfg = FeatureConfig()
    vocab = Vocabulary.for_frames(TIMIT61)
    plain = collate([SpeechDataset(utts, vocab, cfg, with_frame_labels=True)[i] for i in (0, 1)])
    cached = collate([SpeechDataset(utts, vocab, cfg, with_frame_labels=True,
                                    cache=FeatureCache(tmp_path, utts, cfg))[i] for i in (0, 1)])
    assert cached.wave is None and plain.feats is None
    feats, lengths = FeatureExtractor(cfg)(plain.wave, plain.wave_lengths)
    assert torch.equal(cached.feat_lengths, lengths)
    assert torch.equal(cached.feats, feats * (torch.arange(feats.shape[1]) < lengths[:, None])
                       .unsqueeze(-1))
    assert torch.equal(cached.frame_labels, plain.frame_labels)


def test_training_is_identical_with_and_without_the_cache(sample_corpus, tmp_path, request):
    # one thread: fast on a busy 2-core machine; the session's setting comes back afterwards
    request.addfinalizer(partial(torch.set_num_threads, torch.get_num_threads()))
    utts = sorted(read_manifest(sample_corpus / "train.jsonl"), key=lambda u: u.duration)[:3]
    data = tmp_path / "data"
    for split in ("train", "dev", "test"):
        write_manifest(data / f"{split}.jsonl", utts)
    weights = []
    for cache in (False, True):
        out = tmp_path / f"exp_cache_{cache}"
        train(TrainConfig(
            data=DataConfig(name="tiny", corpus="manifest", dir=str(data), max_batch_size=2),
            features=FeatureConfig(cache=cache),
            model=ModelConfig(hidden=16, layers=1, dropout=0.0),
            optim=OptimConfig(lr=3e-3),
            trainer=TrainerConfig(max_epochs=2, patience=0, eval_test=False, num_threads=1),
            out_dir=str(out),
        ))
        weights.append(load_checkpoint(out / "last.pt", torch.device("cpu")))
    assert list((data / ".feature_cache").glob("*/*.pt"))
    for name, value in weights[0]["model"].items():
        assert torch.equal(value, weights[1]["model"][name]), name
    assert weights[0]["normalizer"]["sum"].equal(weights[1]["normalizer"]["sum"])
