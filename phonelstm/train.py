"""``phonelstm-train``: train a recogniser, early-stop on dev, evaluate on test.

With no arguments it prepares the embedded synthetic corpus (if needed), trains a small
BLSTM-CTC on the CPU and prints ``test PER: <x>%`` as its last line. The loop reads top to
bottom: data, features, model, optimiser; epochs of training; validation; checkpoints.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from phonelstm import cli
from phonelstm.checkpoint import load_checkpoint, make_payload, save_checkpoint
from phonelstm.config import TrainConfig, to_dataclass
from phonelstm.data.dataset import BucketBatchSampler, SpeechDataset, collate, utterance_frames
from phonelstm.data.manifest import Utterance
from phonelstm.errors import PhonelstmError
from phonelstm.feature_cache import FeatureCache
from phonelstm.features import FeatureExtractor, Normalizer, SpecAugment
from phonelstm.inference import Scores, batch_features, forward_batches, raw_batch_features, score
from phonelstm.losses import ctc_loss, frame_loss
from phonelstm.metrics import ConfusionMatrix, frame_accuracy, write_frame_report
from phonelstm.model import build_model, describe
from phonelstm.phones import TIMIT61, Vocabulary
from phonelstm.prepare import load_split, prepare_corpus

log = logging.getLogger("phonelstm.train")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PhonelstmError(f"trainer.device={name}: CUDA is not available on this machine")
    return torch.device(name)


def make_loader(utts: list[Utterance], vocab: Vocabulary, cfg: TrainConfig,
                shuffle: bool) -> tuple[DataLoader, BucketBatchSampler]:
    framewise = cfg.trainer.task == "framewise"
    cache = (FeatureCache(Path(cfg.data.dir) / ".feature_cache", utts, cfg.features)
             if cfg.features.cache else None)
    dataset = SpeechDataset(utts, vocab, cfg.features, with_frame_labels=framewise, cache=cache)
    sampler = BucketBatchSampler(utterance_frames(utts, cfg.features),
                                 cfg.data.max_frames_per_batch, cfg.data.max_batch_size,
                                 shuffle=shuffle, seed=cfg.trainer.seed,
                                 bucket_width=cfg.data.bucket_width)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                        num_workers=cfg.data.num_workers, pin_memory=torch.cuda.is_available())
    return loader, sampler


@torch.no_grad()
def fit_normalizer(loader: DataLoader, extractor: FeatureExtractor,
                   device: torch.device) -> Normalizer:
    """Global feature mean/std from one streaming pass over the training set."""
    normalizer = Normalizer(extractor.dim).to(device)
    for batch in tqdm(loader, desc="feature stats", leave=False, disable=None):
        batch = batch.to(device)
        normalizer.accumulate(*raw_batch_features(batch, extractor))
    return normalizer


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint for exact resume."""

    epoch: int = 0  # current epoch (0-based)
    batches_done: int = 0  # batches of the current epoch already trained
    step: int = 0
    best_metric: float = math.inf  # dev PER (ctc) or dev frame error (framewise)
    best_epoch: int = -1
    bad_epochs: int = 0
    skipped_batches: int = 0  # non-finite losses skipped
    train_seconds: float = 0.0


def dev_metric(scores: Scores, task: str) -> float:
    return scores.errors.rate if task == "ctc" else 100.0 - scores.frame_accuracy


def describe_scores(scores: Scores, task: str) -> str:
    if task == "ctc":
        return scores.errors.summary()
    return f"frame accuracy {scores.frame_accuracy:.2f}% ({scores.frames_total} frames)"


def train(cfg: TrainConfig) -> dict[str, float]:
    """Train per ``cfg``; returns the best dev and the test metrics."""
    if cfg.trainer.num_threads:
        torch.set_num_threads(cfg.trainer.num_threads)
    device = resolve_device(cfg.trainer.device)
    torch.manual_seed(cfg.trainer.seed)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = cfg.trainer.task
    if task not in ("ctc", "framewise"):
        raise PhonelstmError(f"trainer.task must be 'ctc' or 'framewise', got {task!r}")
    if task == "framewise" and cfg.model.stack_frames != 1:
        raise PhonelstmError("model.stack_frames must be 1 for trainer.task=framewise")

    # Data
    prepare_corpus(cfg.data)
    train_utts = [u for name in cfg.data.train_manifests for u in load_split(cfg.data, name)]
    dev_utts = load_split(cfg.data, cfg.data.dev_manifest)
    vocab = Vocabulary.for_ctc(TIMIT61) if task == "ctc" else Vocabulary.for_frames(TIMIT61)
    train_loader, sampler = make_loader(train_utts, vocab, cfg, shuffle=True)
    dev_loader, _ = make_loader(dev_utts, vocab, cfg, shuffle=False)
    references = {u.id: u.phones for u in [*train_utts, *dev_utts]}

    # Features and model
    extractor = FeatureExtractor(cfg.features).to(device)
    augment = SpecAugment(cfg.features)
    model = build_model(cfg.model, extractor.dim, len(vocab)).to(device)
    optimizer = build_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg.optim.plateau_factor, patience=cfg.optim.plateau_patience)
    progress = Progress()
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if cfg.resume and last_path.is_file():
        ckpt = load_checkpoint(last_path, device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        normalizer = Normalizer(extractor.dim).to(device)
        normalizer.load_state_dict(ckpt["normalizer"])
        progress = Progress(**ckpt["progress"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        log.info("resumed from %s at epoch %d, step %d", last_path, progress.epoch, progress.step)
    else:
        normalizer = fit_normalizer(train_loader, extractor, device)
    log.info("model: %s", describe(model))
    log.info("data: %d train / %d dev utterances, %d phones, device %s",
             len(train_utts), len(dev_utts), len(vocab), device)

    def checkpoint(path: Path) -> None:
        save_checkpoint(path, make_payload(
            cfg, vocab, model, normalizer, optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(), progress=vars(progress),
            rng={"torch": torch.get_rng_state()}))

    # Training
    writer = SummaryWriter(str(out_dir / "tensorboard"))
    start = time.monotonic() - progress.train_seconds
    budget = cfg.trainer.max_minutes * 60 or math.inf
    while progress.epoch < cfg.trainer.max_epochs and progress.bad_epochs < (
            cfg.trainer.patience or math.inf):
        sampler.set_epoch(progress.epoch)
        model.train()
        loss_sum, loss_count = torch.zeros((), device=device), 0
        train_correct = train_frames = 0  # framewise: running accuracy over the epoch
        bar = tqdm(train_loader, desc=f"epoch {progress.epoch + 1}", leave=False, disable=None,
                   initial=progress.batches_done, total=len(sampler))
        for index, batch in enumerate(bar):
            if index < progress.batches_done:
                continue  # resumed mid-epoch: these batches were already trained
            batch = batch.to(device)
            feats, lengths = batch_features(batch, extractor, normalizer, cfg.features)
            feats = augment(feats, lengths)  # SpecAugment, when configured
            logits, out_lengths = model(feats, lengths)  # (B, T', C)
            if task == "ctc":
                loss = ctc_loss(logits, out_lengths, batch.targets, batch.target_lengths)
            else:
                loss = frame_loss(logits, batch.frame_labels)
                correct, frames = frame_accuracy(logits.detach().argmax(-1),
                                                 batch.frame_labels[:, :logits.shape[1]])
                train_correct, train_frames = train_correct + correct, train_frames + frames
            optimizer.zero_grad(set_to_none=True)
            if torch.isfinite(loss):
                loss.backward()
                if cfg.optim.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                optimizer.step()
                loss_sum += loss.detach()
                loss_count += 1
            else:
                progress.skipped_batches += 1
            progress.step += 1
            progress.batches_done = index + 1
            if progress.step % cfg.trainer.log_every == 0 and loss_count:
                mean = float(loss_sum) / loss_count
                bar.set_postfix(loss=f"{mean:.3f}")
                writer.add_scalar("train/loss", mean, progress.step)
            if cfg.trainer.save_every_steps and progress.step % cfg.trainer.save_every_steps == 0:
                progress.train_seconds = time.monotonic() - start
                checkpoint(last_path)
            if time.monotonic() - start > budget:
                break
        epoch_finished = progress.batches_done == len(sampler)
        dev = score(forward_batches(model, dev_loader, extractor, normalizer, cfg.features,
                                    device), vocab, references, cfg.trainer.score_phones)
        metric = dev_metric(dev, task)
        scheduler.step(metric)
        writer.add_scalar("dev/error", metric, progress.step)
        writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], progress.step)
        train_accuracy = ""
        if train_frames:
            writer.add_scalar("train/frame_accuracy", 100 * train_correct / train_frames,
                              progress.step)
            train_accuracy = f" (frame accuracy {100 * train_correct / train_frames:.2f}%)"
        log.info("epoch %d: train loss %.3f%s, dev %s, %.1f min", progress.epoch + 1,
                 float(loss_sum) / max(loss_count, 1), train_accuracy,
                 describe_scores(dev, task), (time.monotonic() - start) / 60)
        improved = metric < progress.best_metric
        if improved:
            progress.best_metric, progress.best_epoch, progress.bad_epochs = (
                metric, progress.epoch, 0)
        else:
            progress.bad_epochs += 1
        if epoch_finished:
            progress.epoch += 1
            progress.batches_done = 0
        progress.train_seconds = time.monotonic() - start
        checkpoint(last_path)
        if improved:
            checkpoint(best_path)
        if time.monotonic() - start > budget:
            log.info("trainer.max_minutes=%g reached", cfg.trainer.max_minutes)
            break
    writer.close()
    if progress.skipped_batches:
        log.warning("%d batches skipped for a non-finite loss", progress.skipped_batches)

    # Evaluation of the best checkpoint
    results = {"dev": progress.best_metric}
    if cfg.trainer.eval_test:
        model.load_state_dict(load_checkpoint(best_path, device)["model"])
        test_utts = load_split(cfg.data, cfg.data.test_manifest)
        test_loader, _ = make_loader(test_utts, vocab, cfg, shuffle=False)
        references.update({u.id: u.phones for u in test_utts})
        confusion = ConfusionMatrix(vocab.symbols) if task == "framewise" else None
        test = score(forward_batches(model, test_loader, extractor, normalizer, cfg.features,
                                     device), vocab, references, cfg.trainer.score_phones,
                     confusion=confusion)
        log.info("test: %s", describe_scores(test, task))
        if confusion is not None:
            report = write_frame_report(confusion, out_dir, "test")
            log.info("test frame accuracy on 39 folded classes: %.2f%% (report and confusion "
                     "matrices: %s/test_*)", report["accuracy_39"], out_dir)
        results["test"] = dev_metric(test, task)
        if task == "ctc":
            print(f"test PER: {test.errors.rate:.2f}%")
        else:
            print(f"test frame accuracy: {test.frame_accuracy:.2f}%")
    return results


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "adam":
        return torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum,
                               weight_decay=o.weight_decay)
    raise PhonelstmError(f"optim.name must be 'adam' or 'sgd', got {o.name!r}")


@hydra.main(version_base="1.3", config_path=cli.CONF_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    config = to_dataclass(TrainConfig, cfg)
    results: dict[str, float] = {}
    cli.report_errors("phonelstm-train", lambda: results.update(train(config)))
    return results.get("dev")  # the value Hydra sweepers minimise


def main() -> None:
    cli.run("phonelstm-train", "train", _hydra_main)


if __name__ == "__main__":
    main()
