"""What ends a run, what a rerun resumes, and which passes over the data a run makes."""

import json
import logging
import re
from dataclasses import replace

import pytest

import phonelstm.training.loop as loop
from phonelstm.checkpoint import CheckpointError
from phonelstm.config import FeatureConfig, ModelConfig
from phonelstm.data.corpus import DataError
from phonelstm.data.manifest import write_manifest
from phonelstm.training.loop import train
from tests.test_ctc import tiny_config


def _results(cfg) -> dict:
    with open(f"{cfg.out_dir}/results.json") as f:
        return json.load(f)


def test_results_say_what_stopped_training(sample_corpus, tmp_path, caplog):
    by_epochs = tiny_config(sample_corpus, tmp_path / "a", max_epochs=1)
    train(by_epochs)
    assert _results(by_epochs)["stopped_by"] == "trainer.max_epochs=1"
    by_time = tiny_config(sample_corpus, tmp_path / "b", max_epochs=5, max_minutes=1e-6)
    with caplog.at_level(logging.WARNING, logger="phonelstm.train"):
        train(by_time)
    assert _results(by_time)["stopped_by"] == "trainer.max_minutes=1e-06"
    assert any("stopped by trainer.max_minutes" in r.getMessage() for r in caplog.records)


def test_rerun_says_it_resumes_and_refuses_another_model(sample_corpus, tmp_path, caplog):
    cfg = tiny_config(sample_corpus, tmp_path, max_epochs=1)
    train(cfg)
    with caplog.at_level(logging.INFO, logger="phonelstm.train"):
        train(replace(cfg, trainer=replace(cfg.trainer, max_epochs=2)))
    assert any("resuming from" in r.getMessage() and "at epoch 2" in r.getMessage()
               and "resume=false starts over" in r.getMessage() for r in caplog.records)
    for other, needle in ((replace(cfg, model=replace(cfg.model, hidden=8)),
                           "model.hidden=16 (now 8)"),
                          (replace(cfg, features=FeatureConfig(kind="mfcc", n_mels=26,
                                                               delta_order=1)),
                           "features.kind=fbank (now mfcc)")):
        pattern = rf"exp: its last.pt was trained with other settings: .*{re.escape(needle)}"
        with pytest.raises(CheckpointError, match=pattern + ".*resume=false"):
            train(other)
    train(replace(cfg, model=ModelConfig(hidden=8, layers=1), resume=False))  # starts over


def test_feature_statistics_pass_once_per_utterance_and_only_when_global(
        sample_corpus, tmp_path, monkeypatch):
    seen = []
    real = loop.fit_normalizer

    def counting(loader, *args):
        seen.append(len(loader.dataset))
        return real(loader, *args)

    monkeypatch.setattr(loop, "fit_normalizer", counting)
    cfg = tiny_config(sample_corpus, tmp_path / "a", max_epochs=1)
    train(replace(cfg, data=replace(cfg.data, train_repeat=4)))
    assert seen == [3]  # the 3 training utterances, not the 12 of an epoch
    utterance = tiny_config(sample_corpus, tmp_path / "b", max_epochs=1)
    train(replace(utterance, features=replace(utterance.features, normalize="utterance")))
    assert seen == [3]


def test_training_refuses_evaluation_only_manifests(sample_corpus, tmp_path):
    cfg = tiny_config(sample_corpus, tmp_path, max_epochs=1)
    write_manifest(tmp_path / "data" / "train.jsonl", [])
    with pytest.raises(DataError, match=r"no train utterances .* evaluation only"):
        train(cfg)
