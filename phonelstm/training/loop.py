"""``train(cfg)``: data, features, model, optimiser; epochs of training; validation; the final
evaluation of the best checkpoint. It prints ``test PER: <x>%`` as its last line.

Under ``torchrun`` every process trains a shard of each batch with DistributedDataParallel,
or on the fast path with its own CUDA graphs and one gradient all-reduce per step
(``phonelstm.training.step``); rank 0 alone prepares the data, logs, scores the dev set,
writes checkpoints and runs the final evaluation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from phonelstm.config import TrainConfig
from phonelstm.data.corpus import DataError
from phonelstm.data.dataset import BucketBatchSampler, check_ctc_fit
from phonelstm.data.loader import make_loader
from phonelstm.data.manifest import read_manifest
from phonelstm.data.prepare import load_split, manifest_path, prepare_corpus
from phonelstm.device import resolve_device
from phonelstm.features import FeatureExtractor, Normalizer
from phonelstm.model import build_model, describe
from phonelstm.phones import TIMIT61, Vocabulary
from phonelstm.training import distributed, options
from phonelstm.training.state import Progress, TrainingState, load_weights, resume, save_state
from phonelstm.training.step import TrainStep, build_train_step
from phonelstm.training.validate import (
    describe_scores,
    dev_metric,
    evaluate,
    fit_normalizer,
    score_dev,
    write_results,
)

log = logging.getLogger("phonelstm.train")  # the command's log


class NoWriter:
    """TensorBoard writer of ranks other than 0: writes nothing."""

    def add_scalar(self, *args: object) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Clock:
    """Training time, counting the time before a resume, against ``trainer.max_minutes``."""

    start: float  # time.monotonic() at the (possibly earlier) start of training
    budget: float  # seconds; inf without a limit

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def out_of_time(self) -> bool:
        return self.elapsed() > self.budget


@dataclass
class EpochTotals:
    """This rank's sums over the batches it trained in an epoch."""

    loss_sum: Tensor  # () on the device: summed losses of the updated batches
    updates: int = 0  # batches with a finite loss
    frames_correct: int = 0  # framewise: frames classified right
    frames: int = 0


def train_one_epoch(step: TrainStep, loader: DataLoader, sampler: BucketBatchSampler,
                    progress: Progress, clock: Clock, cfg: TrainConfig, writer: SummaryWriter,
                    save_last: Callable[[], None], show_progress: bool) -> EpochTotals:
    """The rest of epoch ``progress.epoch`` (all of it unless resumed mid-epoch); stops early
    when ``trainer.max_minutes`` has passed."""
    sampler.set_epoch(progress.epoch)
    step.model.train()
    totals = EpochTotals(torch.zeros((), device=step.device))
    bar = tqdm(loader, desc=f"epoch {progress.epoch + 1}", leave=False,
               disable=None if show_progress else True, initial=progress.batches_done,
               total=len(sampler))
    for index, batch in enumerate(bar):
        if index < progress.batches_done:
            continue  # resumed mid-epoch: these batches were already trained
        result = step(batch, clock.out_of_time)
        totals.frames_correct += result.frames_correct
        totals.frames += result.frames
        if result.loss is not None:
            totals.loss_sum += result.loss
            totals.updates += 1
        else:
            progress.skipped_batches += 1
        progress.step += 1
        progress.batches_done = index + 1
        if progress.step % cfg.trainer.log_every == 0 and totals.updates:
            mean = float(totals.loss_sum) / totals.updates
            bar.set_postfix(loss=f"{mean:.3f}")
            writer.add_scalar("train/loss", mean, progress.step)
        if cfg.trainer.save_every_steps and progress.step % cfg.trainer.save_every_steps == 0:
            progress.train_seconds = clock.elapsed()
            save_last()
        if result.out_of_time:
            break
    return totals


def train(cfg: TrainConfig) -> dict[str, float]:
    """Train per ``cfg``; returns the best dev metric (``dev``) and the final scores of the
    best checkpoint as written to ``results.json``."""
    options.check_trainer(cfg)
    if cfg.trainer.num_threads:
        torch.set_num_threads(cfg.trainer.num_threads)
    ctx, device = distributed.setup(resolve_device(cfg.trainer.device))
    fast = options.use_fast_path(cfg.trainer, device)
    options.check_device(cfg.trainer, device)
    torch.manual_seed(cfg.trainer.seed)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = cfg.trainer.task

    # Data
    if ctx.is_main:
        prepare_corpus(cfg.data)
    distributed.barrier(ctx)  # the other ranks read the manifests rank 0 prepared
    # data.train_repeat oversamples a small corpus beside a large data.extra_train one
    sources = {str(manifest_path(cfg.data, name)): load_split(cfg.data, name)
               for name in cfg.data.train_manifests}
    corpus_utts = [u for utts in sources.values() for u in utts]
    # a manifest listed twice in data.extra_train counts twice
    extra = [(path, read_manifest(path)) for path in cfg.data.extra_train]
    extra_utts = [u for _, utts in extra for u in utts]
    if cfg.trainer.task == "ctc":
        for where, utts in [*sources.items(), *extra]:
            check_ctc_fit(utts, cfg.features, cfg.model.stack_frames, where)
    train_utts = corpus_utts * cfg.data.train_repeat + extra_utts
    dev_utts = load_split(cfg.data, cfg.data.dev_manifest)
    for split, utts in (("train", train_utts), ("dev", dev_utts)):
        if not utts:
            raise DataError(f"data.dir={cfg.data.dir}: no {split} utterances (manifests "
                            "prepared for evaluation only?); training needs train and dev")
    vocab = Vocabulary.for_ctc(TIMIT61) if task == "ctc" else Vocabulary.for_frames(TIMIT61)
    train_loader, sampler = make_loader(
        train_utts, vocab, cfg, shuffle=True, rank=ctx.rank, num_replicas=ctx.world_size,
        length_quantum=cfg.trainer.static_frames if fast else 1)
    dev_loader, _ = make_loader(dev_utts, vocab, cfg, shuffle=False)
    references = {u.id: u.phones for u in [*train_utts, *dev_utts]}

    # Features, model, optimiser
    extractor = FeatureExtractor(cfg.features).to(device)
    model = build_model(cfg.model, extractor.dim, len(vocab),
                        recurrence=options.recurrence(cfg.trainer, fast)).to(device)
    if ctx.rank:  # its own dropout and noise draws; the weights are rank 0's (broadcast)
        torch.manual_seed(cfg.trainer.seed + ctx.rank)
    optimizer = options.build_optimizer(model, cfg)
    scheduler = options.build_scheduler(optimizer, cfg)
    scaler = torch.amp.GradScaler(device.type,
                                  enabled=options.AMP_DTYPES[cfg.trainer.amp] == torch.float16)
    state = TrainingState(model, Normalizer(extractor.dim).to(device), optimizer, scheduler,
                          scaler)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if cfg.resume and last_path.is_file():
        resume(state, last_path, device, ctx, cfg)
        log.info("resuming from %s at epoch %d, step %d (resume=false starts over)", last_path,
                 state.progress.epoch + 1, state.progress.step)
    elif cfg.trainer.init_from:
        load_weights(cfg.trainer.init_from, device, model, state.normalizer,
                     setting="trainer.init_from")
        log.info("initialised from %s", cfg.trainer.init_from)
    elif cfg.features.normalize == "global":  # each training utterance once, not repeated
        stats_loader, _ = make_loader(corpus_utts + extra_utts, vocab, cfg, shuffle=False,
                                      rank=ctx.rank, num_replicas=ctx.world_size)
        state.normalizer = fit_normalizer(stats_loader, extractor, device, ctx)
    progress = state.progress
    step = build_train_step(cfg, fast, ctx, device, model, extractor, state.normalizer,
                            optimizer, scaler)
    log.info("model: %s", describe(model))
    log.info("data: %d train / %d dev utterances, %d phones, device %s%s",
             len(train_utts), len(dev_utts), len(vocab), device,
             f", {ctx.world_size} processes" if ctx.enabled else "")

    # Training
    writer = SummaryWriter(str(out_dir / "tensorboard")) if ctx.is_main else NoWriter()
    clock = Clock(time.monotonic() - progress.train_seconds,
                  cfg.trainer.max_minutes * 60 or math.inf)
    while progress.epoch < cfg.trainer.max_epochs and progress.bad_epochs < (
            cfg.trainer.patience or math.inf):
        totals = train_one_epoch(step, train_loader, sampler, progress, clock, cfg, writer,
                                 lambda: save_state(last_path, state, cfg, vocab, ctx),
                                 show_progress=ctx.is_main)
        epoch_finished = progress.batches_done == len(sampler)
        dev = None  # rank 0 scores the dev set; the other ranks wait for its metric
        if ctx.is_main:
            dev = score_dev(model, dev_loader, extractor, state.normalizer, cfg, device, vocab,
                            references)
        metric = distributed.broadcast_float(ctx, dev_metric(dev, task) if dev is not None
                                             else math.nan, device)
        if scheduler is not None:
            scheduler.step(metric)
        # epoch means over all ranks: loss, and framewise the frame counts
        sums = distributed.all_reduce_sum(ctx, torch.tensor(
            [float(totals.loss_sum), totals.frames_correct, totals.frames], dtype=torch.float64,
            device=device))
        train_loss = float(sums[0]) / ctx.world_size / max(totals.updates, 1)
        train_correct, train_frames = int(sums[1]), int(sums[2])
        writer.add_scalar("dev/error", metric, progress.step)
        writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], progress.step)
        train_accuracy = ""
        if train_frames:
            writer.add_scalar("train/frame_accuracy", 100 * train_correct / train_frames,
                              progress.step)
            train_accuracy = f" (frame accuracy {100 * train_correct / train_frames:.2f}%)"
        if dev is not None:
            log.info("epoch %d: train loss %.3f%s, dev %s, %.1f min", progress.epoch + 1,
                     train_loss, train_accuracy, describe_scores(dev, task),
                     clock.elapsed() / 60)
        improved = metric < progress.best_metric
        if improved:
            progress.best_metric, progress.best_epoch, progress.bad_epochs = (
                metric, progress.epoch, 0)
        else:
            progress.bad_epochs += 1
        if epoch_finished:
            progress.epoch += 1
            progress.batches_done = 0
        progress.train_seconds = clock.elapsed()
        save_state(last_path, state, cfg, vocab, ctx)
        if improved:
            save_state(best_path, state, cfg, vocab, ctx)
        if distributed.any_rank(ctx, [clock.out_of_time()], device)[0]:
            stopped_by = f"trainer.max_minutes={cfg.trainer.max_minutes:g}"
            log.warning("stopped by %s after %.2f of %d epochs: a time budget makes the "
                        "figures depend on the machine's speed (trainer.max_epochs does not)",
                        stopped_by, progress.epoch + progress.batches_done / len(sampler),
                        cfg.trainer.max_epochs)
            break
    else:
        stopped_by = (f"trainer.patience={cfg.trainer.patience}" if progress.epoch
                      < cfg.trainer.max_epochs else f"trainer.max_epochs={cfg.trainer.max_epochs}")
    writer.close()
    distributed.teardown(ctx)  # the other ranks are done; rank 0 evaluates
    if not ctx.is_main:
        return {"dev": progress.best_metric}
    if progress.skipped_batches:
        log.warning("%d batches skipped for a non-finite loss", progress.skipped_batches)

    # Evaluation of the best checkpoint: greedy, and beam search when trainer.beam > 1
    load_weights(best_path, device, model)
    splits = {"dev": dev_loader}
    if cfg.trainer.eval_test:
        test_utts = load_split(cfg.data, cfg.data.test_manifest)
        if not test_utts:
            raise DataError(f"data.dir={cfg.data.dir}: no test utterances; set "
                            "trainer.eval_test=false to train without a test split")
        splits["test"], _ = make_loader(test_utts, vocab, cfg, shuffle=False)
        references.update({u.id: u.phones for u in test_utts})
    results = evaluate(model, splits, extractor, state.normalizer, cfg, device, vocab,
                       references, out_dir)
    epochs = progress.epoch + progress.batches_done / max(len(sampler), 1)
    write_results(out_dir / "results.json", cfg, model, progress, epochs, stopped_by, results,
                  device)
    if "test" in splits:
        if task == "ctc":
            print(f"test PER: {results['test_greedy']:.2f}%")
        else:
            print(f"test frame accuracy: {100.0 - results['test']:.2f}%")
    primary = {"test": results["test_greedy" if task == "ctc" else "test"]} if (
        "test" in splits) else {}
    return {**results, "dev": progress.best_metric, **primary}
