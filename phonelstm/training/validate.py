"""Passes over data that do not train: feature statistics, dev scoring, final evaluation.

The training engine reaches features, inference and scoring through this module (and the
step's ``batch_features`` and ``frame_accuracy``), so they can be re-pointed in one place.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from phonelstm.config import TrainConfig
from phonelstm.device import device_name
from phonelstm.features import FeatureExtractor, Normalizer, raw_batch_features
from phonelstm.io import atomic_write_text
from phonelstm.metrics import ConfusionMatrix, Scores
from phonelstm.model import count_parameters, describe
from phonelstm.phones import Vocabulary
from phonelstm.reports import write_frame_report
from phonelstm.scoring import forward_batches, score
from phonelstm.training import distributed
from phonelstm.training.state import Progress

log = logging.getLogger("phonelstm.train")  # the command's log


@torch.no_grad()
def fit_normalizer(loader: DataLoader, extractor: FeatureExtractor, device: torch.device,
                   ctx: distributed.Context = distributed.SINGLE_PROCESS) -> Normalizer:
    """Global feature mean/std from one streaming pass over the training set (each rank
    reads its shard; the sums are added over ranks)."""
    normalizer = Normalizer(extractor.dim).to(device)
    for batch in tqdm(loader, desc="feature stats", leave=False, disable=None if ctx.is_main
                      else True):
        batch = batch.to(device)
        normalizer.accumulate(*raw_batch_features(batch, extractor))
    for buffer in normalizer.buffers():
        distributed.all_reduce_sum(ctx, buffer)
    return normalizer


def dev_metric(scores: Scores, task: str) -> float:
    """What early stopping minimises: PER (CTC) or frame error (framewise), in percent."""
    return scores.errors.rate if task == "ctc" else 100.0 - scores.frame_accuracy


def describe_scores(scores: Scores, task: str) -> str:
    if task == "ctc":
        return scores.errors.summary()
    return f"frame accuracy {scores.frame_accuracy:.2f}% ({scores.frames_total} frames)"


def score_dev(model: nn.Module, loader: DataLoader, extractor: FeatureExtractor,
              normalizer: Normalizer, cfg: TrainConfig, device: torch.device, vocab: Vocabulary,
              references: dict[str, list[str]]) -> Scores:
    """Greedy PER or frame accuracy of ``model`` on ``loader``'s batches."""
    return score(forward_batches(model, loader, extractor, normalizer, cfg.features, device),
                 vocab, references, cfg.trainer.score_phones)


def evaluate(model: nn.Module, splits: dict[str, DataLoader],
             extractor: FeatureExtractor, normalizer: Normalizer, cfg: TrainConfig,
             device: torch.device, vocab: Vocabulary, references: dict[str, list[str]],
             out_dir: Path) -> dict[str, float]:
    """Each split's metric, greedy and (CTC with ``trainer.beam > 1``) beam search; the
    framewise test split also writes its frame report and confusion matrices."""
    task = cfg.trainer.task
    results: dict[str, float] = {}
    for split, loader in splits.items():
        outputs = list(forward_batches(model, loader, extractor, normalizer, cfg.features,
                                       device))
        beams = (1, cfg.trainer.beam) if task == "ctc" and cfg.trainer.beam > 1 else (1,)
        for beam in beams:
            confusion = (ConfusionMatrix(vocab.symbols)
                         if task == "framewise" and split == "test" else None)
            scores = score(outputs, vocab, references, cfg.trainer.score_phones, beam,
                           cfg.trainer.beam_backend, confusion=confusion)
            key = f"{split}_{'greedy' if beam == 1 else 'beam'}" if task == "ctc" else split
            results[key] = dev_metric(scores, task)
            log.info("%s (%s): %s", split, "greedy" if beam == 1 else f"beam {beam}",
                     describe_scores(scores, task))
            if confusion is not None:
                report = write_frame_report(confusion, out_dir, "test")
                log.info("test frame accuracy on 39 folded classes: %.2f%% (report and "
                         "confusion matrices: %s/test_*)", report["accuracy_39"], out_dir)
    return results


def write_results(path: Path, cfg: TrainConfig, model: nn.Module, progress: Progress,
                  epochs: float, stopped_by: str, metrics: dict[str, float],
                  device: torch.device) -> None:
    """``results.json`` beside the checkpoints: what ``scripts/collect_results.py`` tabulates.

    CTC metrics are PER in percent (``dev_greedy``, ``dev_beam``, ``test_greedy``,
    ``test_beam``); framewise ones are frame error in percent (``dev``, ``test``).
    ``epochs`` counts a partly trained last epoch (``trainer.max_minutes``) as a fraction;
    ``stopped_by`` is the setting that ended training (``trainer.max_epochs=20``,
    ``trainer.patience=4`` or ``trainer.max_minutes=10``).
    """
    m = cfg.model
    row = {
        "name": cfg.name, "data": cfg.data.name, "task": cfg.trainer.task,
        "model": describe(model), "cell": m.cell, "layers": m.layers, "hidden": m.hidden,
        "proj_size": m.proj_size, "bidirectional": m.bidirectional,
        "weights": count_parameters(model), "optim": cfg.optim.name,
        "weight_noise": cfg.trainer.weight_noise, "beam": cfg.trainer.beam,
        "score_phones": cfg.trainer.score_phones, "epochs": round(epochs, 2),
        "best_epoch": progress.best_epoch + 1, "steps": progress.step, "stopped_by": stopped_by,
        "skipped_batches": progress.skipped_batches,
        "hours": round(progress.train_seconds / 3600, 4), "device": device_name(device),
        **{k: round(v, 2) for k, v in metrics.items()},
    }
    atomic_write_text(path, json.dumps(row, indent=2) + "\n")
