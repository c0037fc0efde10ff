"""``phonelstm-train``: train a recogniser, early-stop on dev, evaluate on test.

With no arguments it prepares the embedded synthetic corpus (if needed), trains a small
BLSTM-CTC on the CPU and prints ``test PER: <x>%`` as its last line. The loop reads top to
bottom: data, features, model, optimiser; epochs of training; validation; checkpoints.

Under ``torchrun`` every process trains a shard of each batch with DistributedDataParallel,
or on the fast path with its own CUDA graphs and one gradient all-reduce per step
(``phonelstm.distributed``); rank 0 alone prepares the data, logs, scores the dev set, writes
checkpoints and runs the final evaluation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from phonelstm import cli, distributed
from phonelstm.checkpoint import CheckpointError, load_checkpoint, make_payload, save_checkpoint
from phonelstm.config import TrainConfig, to_dataclass
from phonelstm.data.dataset import BucketBatchSampler, SpeechDataset, collate, utterance_frames
from phonelstm.data.manifest import Utterance, read_manifest
from phonelstm.errors import PhonelstmError
from phonelstm.fast_path import GraphedModel, StaticShapes, longest_frames, pad_batch
from phonelstm.feature_cache import FeatureCache
from phonelstm.features import (
    FeatureExtractor,
    Normalizer,
    SpecAugment,
    batch_features,
    raw_batch_features,
)
from phonelstm.io import atomic_write_text
from phonelstm.losses import ctc_loss, frame_loss
from phonelstm.metrics import ConfusionMatrix, Scores, frame_accuracy
from phonelstm.model import RecurrentModel, build_model, count_parameters, describe
from phonelstm.noise import weight_noise
from phonelstm.phones import TIMIT61, Vocabulary
from phonelstm.prepare import load_split, prepare_corpus
from phonelstm.recognizer import forward_batches, score
from phonelstm.reports import write_frame_report

log = logging.getLogger("phonelstm.train")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PhonelstmError(f"trainer.device={name}: CUDA is not available on this machine")
    return torch.device(name)


def make_loader(utts: list[Utterance], vocab: Vocabulary, cfg: TrainConfig, shuffle: bool,
                ctx: distributed.Context = distributed.SINGLE_PROCESS
                ) -> tuple[DataLoader, BucketBatchSampler]:
    """Batches of ``utts``; with several ranks, this rank's shard of every batch."""
    framewise = cfg.trainer.task == "framewise"
    cache = (FeatureCache(Path(cfg.data.dir) / ".feature_cache", utts, cfg.features)
             if cfg.features.cache else None)
    dataset = SpeechDataset(utts, vocab, cfg.features, with_frame_labels=framewise, cache=cache)
    sampler = BucketBatchSampler(utterance_frames(utts, cfg.features),
                                 cfg.data.max_frames_per_batch, cfg.data.max_batch_size,
                                 shuffle=shuffle, seed=cfg.trainer.seed,
                                 bucket_width=cfg.data.bucket_width,
                                 num_replicas=ctx.world_size, rank=ctx.rank,
                                 length_quantum=cfg.trainer.static_frames
                                 if cfg.trainer.fast and shuffle else 1)
    # a private generator: creating an iterator must not draw from the global RNG, whose
    # state the checkpoint restores for exact resume (dropout, weight noise)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                        num_workers=cfg.data.num_workers, pin_memory=torch.cuda.is_available(),
                        generator=torch.Generator().manual_seed(cfg.trainer.seed))
    return loader, sampler


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


AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_trainer(cfg: TrainConfig) -> None:
    t = cfg.trainer
    if t.task not in ("ctc", "framewise"):
        raise PhonelstmError(f"trainer.task must be 'ctc' or 'framewise', got {t.task!r}")
    if t.task == "framewise" and cfg.model.stack_frames != 1:
        raise PhonelstmError("model.stack_frames must be 1 for trainer.task=framewise")
    if t.amp not in AMP_DTYPES:
        raise PhonelstmError(f"trainer.amp must be one of {sorted(AMP_DTYPES)}, got {t.amp!r}")
    if t.weight_noise < 0:
        raise PhonelstmError(f"trainer.weight_noise must be >= 0, got {t.weight_noise}")
    if t.beam < 1:
        raise PhonelstmError(f"trainer.beam must be >= 1, got {t.beam}")
    if cfg.data.train_repeat < 1:
        raise PhonelstmError(f"data.train_repeat must be >= 1, got {cfg.data.train_repeat}")
    if t.static_frames < 1:
        raise PhonelstmError(f"trainer.static_frames must be >= 1, got {t.static_frames}")


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rank_rng_state(ckpt: dict, ctx: distributed.Context) -> dict:
    """This rank's RNG state from a checkpoint; rank 0's when the number of ranks changed."""
    states = ckpt.get("rng_ranks", [ckpt["rng"]])
    if len(states) != ctx.world_size:
        log.warning("resuming with %d process(es) from a checkpoint of %d: the random draws "
                    "(dropout, weight noise) differ from an uninterrupted run", ctx.world_size,
                    len(states))
        return states[0]
    return states[ctx.rank]


class NoWriter:
    """TensorBoard writer of ranks other than 0: writes nothing."""

    def add_scalar(self, *args: object) -> None:
        pass

    def close(self) -> None:
        pass


def init_weights(model: torch.nn.Module, normalizer: Normalizer, path: str,
                 device: torch.device) -> None:
    """``trainer.init_from``: start from another run's weights and feature statistics."""
    ckpt = load_checkpoint(path, device)
    try:
        model.load_state_dict(ckpt["model"])
        normalizer.load_state_dict(ckpt["normalizer"])
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(f"trainer.init_from={path}: weights do not fit model.* ({first})"
                              ) from None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def train(cfg: TrainConfig) -> dict[str, float]:
    """Train per ``cfg``; returns the best dev metric (``dev``) and the final scores of the
    best checkpoint as written to ``results.json``."""
    check_trainer(cfg)
    if cfg.trainer.num_threads:
        torch.set_num_threads(cfg.trainer.num_threads)
    ctx, device = distributed.setup(resolve_device(cfg.trainer.device))
    if cfg.trainer.fast is None:  # the fast path is on by default on CUDA
        cfg = replace(cfg, trainer=replace(cfg.trainer, fast=device.type == "cuda"))
    if cfg.trainer.amp == "fp16" and device.type != "cuda":
        # oneDNN has no fp16 LSTM kernel
        raise PhonelstmError("trainer.amp=fp16 needs a CUDA device; use trainer.amp=bf16 on CPU")
    torch.manual_seed(cfg.trainer.seed)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = cfg.trainer.task

    # Data
    if ctx.is_main:
        prepare_corpus(cfg.data)
    distributed.barrier(ctx)  # the other ranks read the manifests rank 0 prepared
    # data.train_repeat oversamples a small corpus beside a large data.extra_train one
    train_utts = [u for name in cfg.data.train_manifests
                  for u in load_split(cfg.data, name)] * cfg.data.train_repeat
    train_utts += [u for path in cfg.data.extra_train for u in read_manifest(path)]
    dev_utts = load_split(cfg.data, cfg.data.dev_manifest)
    vocab = Vocabulary.for_ctc(TIMIT61) if task == "ctc" else Vocabulary.for_frames(TIMIT61)
    train_loader, sampler = make_loader(train_utts, vocab, cfg, shuffle=True, ctx=ctx)
    dev_loader, _ = make_loader(dev_utts, vocab, cfg, shuffle=False)
    references = {u.id: u.phones for u in [*train_utts, *dev_utts]}

    # Features and model
    extractor = FeatureExtractor(cfg.features).to(device)
    augment = SpecAugment(cfg.features)
    model = build_model(cfg.model, extractor.dim, len(vocab)).to(device)
    if ctx.rank:  # its own dropout and noise draws; the weights are rank 0's (broadcast)
        torch.manual_seed(cfg.trainer.seed + ctx.rank)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    amp_dtype = AMP_DTYPES[cfg.trainer.amp]
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    progress = Progress()
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    normalizer = Normalizer(extractor.dim).to(device)
    if cfg.resume and last_path.is_file():
        ckpt = load_checkpoint(last_path, device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):  # empty unless trainer.amp=fp16
            scaler.load_state_dict(ckpt["scaler"])
        normalizer.load_state_dict(ckpt["normalizer"])
        progress = Progress(**ckpt["progress"])
        set_rng_state(rank_rng_state(ckpt, ctx))
        log.info("resumed from %s at epoch %d, step %d", last_path, progress.epoch, progress.step)
    elif cfg.trainer.init_from:
        init_weights(model, normalizer, cfg.trainer.init_from, device)
        log.info("initialised from %s", cfg.trainer.init_from)
    else:
        normalizer = fit_normalizer(train_loader, extractor, device, ctx)
    step_model: torch.nn.Module = model  # what the training step calls
    # the fast path: static shapes, padded recurrences, CUDA graphs on GPU. Under torchrun it
    # does without DDP, whose backward hooks a captured graph would not run: each rank replays
    # its own graphs and the step averages the gradients in one flat all-reduce
    shapes = graphed = None
    if cfg.trainer.fast:
        distributed.broadcast_module(ctx, model)  # rank 0's weights, as DDP would broadcast
        shapes = StaticShapes(cfg.trainer.static_frames, cfg.data.max_frames_per_batch,
                              cfg.data.max_batch_size, ctx.world_size)
        if isinstance(model, RecurrentModel):
            model.padded, model.persistent = True, cfg.trainer.persistent_lstm
        if device.type == "cuda":
            graphed = GraphedModel(model, amp_dtype)
    elif ctx.enabled:
        step_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False)
    log.info("model: %s", describe(model))
    log.info("data: %d train / %d dev utterances, %d phones, device %s%s",
             len(train_utts), len(dev_utts), len(vocab), device,
             f", {ctx.world_size} processes" if ctx.enabled else "")

    def checkpoint(path: Path) -> None:
        """Every rank calls this (their RNG states are gathered); rank 0 writes."""
        rng = distributed.gather(ctx, rng_state())
        if not ctx.is_main:
            return
        per_rank = {"rng_ranks": rng} if ctx.world_size > 1 else {}
        save_checkpoint(path, make_payload(
            cfg, vocab, model, normalizer, optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict() if scheduler is not None else None,
            scaler=scaler.state_dict(), progress=vars(progress), rng=rng[0], **per_rank))

    # Training
    writer = SummaryWriter(str(out_dir / "tensorboard")) if ctx.is_main else NoWriter()
    start = time.monotonic() - progress.train_seconds
    budget = cfg.trainer.max_minutes * 60 or math.inf
    while progress.epoch < cfg.trainer.max_epochs and progress.bad_epochs < (
            cfg.trainer.patience or math.inf):
        sampler.set_epoch(progress.epoch)
        step_model.train()
        loss_sum, loss_count = torch.zeros((), device=device), 0
        train_correct = train_frames = 0  # framewise: running accuracy over the epoch
        bar = tqdm(train_loader, desc=f"epoch {progress.epoch + 1}", leave=False,
                   disable=None if ctx.is_main else True, initial=progress.batches_done,
                   total=len(sampler))
        for index, batch in enumerate(bar):
            if index < progress.batches_done:
                continue  # resumed mid-epoch: these batches were already trained
            longest = longest_frames(batch, cfg.features) if shapes else 0
            batch = batch.to(device)
            feats, lengths = batch_features(batch, extractor, normalizer, cfg.features)
            feats = augment(feats, lengths)  # SpecAugment, when configured
            if shapes:
                feats, lengths = pad_batch(feats, lengths, shapes.shape(longest))
            optimizer.zero_grad(set_to_none=True)
            with weight_noise(model, cfg.trainer.weight_noise):
                if graphed:
                    logits, out_lengths = graphed(feats, lengths)
                else:
                    with (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype
                          else nullcontext()):
                        logits, out_lengths = step_model(feats, lengths)  # (B, T', C)
                real = len(batch.ids)  # the static shape's extra rows are not scored
                logits, out_lengths = logits[:real], out_lengths[:real]
                if task == "ctc":
                    loss = ctc_loss(logits, out_lengths, batch.targets, batch.target_lengths)
                    count = real
                else:
                    loss = frame_loss(logits, batch.frame_labels)
                    correct, count = frame_accuracy(logits.detach().argmax(-1),
                                                    batch.frame_labels[:, :logits.shape[1]])
                    train_correct, train_frames = train_correct + correct, train_frames + count
                loss = distributed.global_mean(ctx, loss, count)
                # decided alike on every rank, or the gradient all-reduce would wait for a
                # rank that stopped
                nonfinite, out_of_time = distributed.any_rank(
                    ctx, [not bool(torch.isfinite(loss)), time.monotonic() - start > budget],
                    device)
                if not nonfinite:
                    scaler.scale(loss).backward()
            if not nonfinite:
                if step_model is model:  # not DDP-wrapped: average here (no-op in one process)
                    distributed.average_gradients(ctx, model.parameters())
                if cfg.optim.grad_clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                loss_sum += loss.detach()
                loss_count += 1
            else:
                progress.skipped_batches += 1
            del logits, loss  # a new shape's graph capture must not meet this step's autograd
            progress.step += 1
            progress.batches_done = index + 1
            if progress.step % cfg.trainer.log_every == 0 and loss_count:
                mean = float(loss_sum) / loss_count
                bar.set_postfix(loss=f"{mean:.3f}")
                writer.add_scalar("train/loss", mean, progress.step)
            if cfg.trainer.save_every_steps and progress.step % cfg.trainer.save_every_steps == 0:
                progress.train_seconds = time.monotonic() - start
                checkpoint(last_path)
            if out_of_time:
                break
        epoch_finished = progress.batches_done == len(sampler)
        dev = None  # rank 0 scores the dev set; the other ranks wait for its metric
        if ctx.is_main:
            dev = score(forward_batches(model, dev_loader, extractor, normalizer, cfg.features,
                                        device), vocab, references, cfg.trainer.score_phones)
        metric = distributed.broadcast_float(ctx, dev_metric(dev, task) if dev is not None
                                             else math.nan,
                                             device)
        if scheduler is not None:
            scheduler.step(metric)
        # epoch means over all ranks: loss, and framewise the frame counts
        totals = distributed.all_reduce_sum(ctx, torch.tensor(
            [float(loss_sum), train_correct, train_frames], dtype=torch.float64, device=device))
        train_loss = float(totals[0]) / ctx.world_size / max(loss_count, 1)
        train_correct, train_frames = int(totals[1]), int(totals[2])
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
                     (time.monotonic() - start) / 60)
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
        if distributed.any_rank(ctx, [time.monotonic() - start > budget], device)[0]:
            log.info("trainer.max_minutes=%g reached", cfg.trainer.max_minutes)
            break
    writer.close()
    distributed.teardown(ctx)  # the other ranks are done; rank 0 evaluates
    if not ctx.is_main:
        return {"dev": progress.best_metric}
    if progress.skipped_batches:
        log.warning("%d batches skipped for a non-finite loss", progress.skipped_batches)

    # Evaluation of the best checkpoint: greedy, and beam search when trainer.beam > 1
    model.load_state_dict(load_checkpoint(best_path, device)["model"])
    splits = {"dev": dev_loader}
    if cfg.trainer.eval_test:
        test_utts = load_split(cfg.data, cfg.data.test_manifest)
        splits["test"], _ = make_loader(test_utts, vocab, cfg, shuffle=False)
        references.update({u.id: u.phones for u in test_utts})
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
    epochs = progress.epoch + progress.batches_done / max(len(sampler), 1)
    write_results(out_dir / "results.json", cfg, model, progress, epochs, results, device)
    if "test" in splits:
        if task == "ctc":
            print(f"test PER: {results['test_greedy']:.2f}%")
        else:
            print(f"test frame accuracy: {100.0 - results['test']:.2f}%")
    primary = {"test": results["test_greedy" if task == "ctc" else "test"]} if (
        "test" in splits) else {}
    return {**results, "dev": progress.best_metric, **primary}


def write_results(path: Path, cfg: TrainConfig, model: torch.nn.Module, progress: Progress,
                  epochs: float, metrics: dict[str, float], device: torch.device) -> None:
    """``results.json`` beside the checkpoints: what ``scripts/collect_results.py`` tabulates.

    CTC metrics are PER in percent (``dev_greedy``, ``dev_beam``, ``test_greedy``,
    ``test_beam``); framewise ones are frame error in percent (``dev``, ``test``).
    ``epochs`` counts a partly trained last epoch (``trainer.max_minutes``) as a fraction.
    """
    m = cfg.model
    row = {
        "name": cfg.name, "data": cfg.data.name, "task": cfg.trainer.task,
        "model": describe(model), "cell": m.cell, "layers": m.layers, "hidden": m.hidden,
        "proj_size": m.proj_size, "bidirectional": m.bidirectional,
        "weights": count_parameters(model), "optim": cfg.optim.name,
        "weight_noise": cfg.trainer.weight_noise, "beam": cfg.trainer.beam,
        "score_phones": cfg.trainer.score_phones, "epochs": round(epochs, 2),
        "best_epoch": progress.best_epoch + 1, "steps": progress.step,
        "skipped_batches": progress.skipped_batches,
        "hours": round(progress.train_seconds / 3600, 4), "device": device_name(device),
        **{k: round(v, 2) for k, v in metrics.items()},
    }
    atomic_write_text(path, json.dumps(row, indent=2) + "\n")


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "adam":
        return torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum,
                               weight_decay=o.weight_decay)
    raise PhonelstmError(f"optim.name must be 'adam' or 'sgd', got {o.name!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig
                    ) -> torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    o = cfg.optim
    if o.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=o.plateau_factor, patience=o.plateau_patience)
    if o.schedule == "none":
        return None
    raise PhonelstmError(f"optim.schedule must be 'plateau' or 'none', got {o.schedule!r}")


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
