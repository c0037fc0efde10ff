"""Training-step and decoding speed: peers' eager ``nn.LSTM`` step against phonelstm's step.

Usage (from the project root)::

    python scripts/bench_train.py                         # CUDA if present, else CPU
    python scripts/bench_train.py --batch-sizes 1 8 32 128 --amp bf16 --json bench.json

Two networks: the 5 x 250 BLSTM-CTC of Graves et al. 2013 (123 inputs, 62 outputs) and the
1 x 93 framewise BLSTM of Graves & Schmidhuber 2005 (26 inputs, 61 outputs, cross-entropy).
For each batch size (every utterance ``--frames`` long) it times, in one process on one
device, a full training step (forward, loss, backward, Adam):

- ``eager``: what peer toolkits run: ``nn.LSTM`` over packed sequences, a linear layer, the
  loss, in fp32;
- ``phonelstm``: ``trainer.fast=true``: the padded recurrence, on CUDA with each LSTM layer
  as one persistent Triton kernel (``phonelstm.persistent_lstm``; ``--cudnn`` for cuDNN's
  LSTM instead) and one CUDA graph per shape (``phonelstm.training.step``), with ``--amp``
  autocast.

It prints ms per step, frames per second and the speed-up, then decoding speed (eval
forward + best path, frames per second and real-time factor at batch 1 and batched), and
an estimate of one full-TIMIT epoch (3696 utterances, about 1.12M frames) from the B=32 step.
``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from phonelstm.config import ModelConfig
from phonelstm.decoding import greedy_decode
from phonelstm.device import device_name
from phonelstm.losses import ctc_loss, frame_loss
from phonelstm.model import RecurrentModel, build_model
from phonelstm.training.step import GraphedModel

TIMIT_TRAIN_FRAMES = 1_120_000  # about: 3696 utterances (no SA), ~3.1 h of 10 ms frames
NETWORKS = {  # name: (inputs, outputs, layers, hidden, task)
    "ctc_5x250": (123, 62, 5, 250, "ctc"),
    "framewise_1x93": (26, 61, 1, 93, "framewise"),
}


class EagerBLSTM(nn.Module):
    """The peers' network: ``nn.LSTM`` over packed sequences and a linear output layer."""

    def __init__(self, inputs: int, outputs: int, layers: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden, layers, bidirectional=True, batch_first=True)
        self.output = nn.Linear(2 * hidden, outputs)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                        total_length=x.shape[1])
        return self.output(hidden), lengths


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_it(step: Callable[[], None], device: torch.device, steps: int, warmup: int) -> float:
    """Milliseconds per call of ``step`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return 1000 * (time.perf_counter() - start) / steps


def train_step(forward: Callable, model: nn.Module, task: str, batch: dict,
               amp: torch.dtype | None) -> Callable[[], None]:
    """One training step (forward, loss in fp32, backward, Adam) of ``forward``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    device = batch["x"].device

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits, lengths = forward(batch["x"], batch["lengths"])
        if task == "ctc":
            loss = ctc_loss(logits, lengths, batch["targets"], batch["target_lengths"])
        else:
            loss = frame_loss(logits, batch["labels"])
        loss.backward()
        optimizer.step()

    return step


def make_batch(B: int, T: int, inputs: int, outputs: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(B)
    L = T // 4  # phones per utterance (a phone lasts ~4 frames on average)
    return {k: v.to(device) for k, v in {
        "x": torch.randn(B, T, inputs, generator=g),
        "lengths": torch.full((B,), T),
        "targets": torch.randint(1, outputs, (B, L), generator=g),
        "target_lengths": torch.full((B,), L),
        "labels": torch.randint(0, outputs, (B, T), generator=g),
    }.items()}


def bench_network(name: str, batch_sizes: list[int], T: int, device: torch.device,
                  amp: torch.dtype | None, steps: int, persistent: bool) -> list[dict]:
    inputs, outputs, layers, hidden, task = NETWORKS[name]
    rows = []
    for B in batch_sizes:
        batch = make_batch(B, T, inputs, outputs, device)
        torch.manual_seed(0)
        eager = EagerBLSTM(inputs, outputs, layers, hidden).to(device)
        ours = build_model(ModelConfig(hidden=hidden, layers=layers, dropout=0.0,
                                       stack_frames=1), inputs, outputs,
                           recurrence="persistent" if persistent else "padded").to(device)
        forward = GraphedModel(ours, amp) if device.type == "cuda" else ours
        eager_ms = time_it(train_step(eager, eager, task, batch, None), device, steps, 3)
        # GraphedModel autocasts inside its graphs (autocast's cache must be off there)
        outer_amp = None if device.type == "cuda" else amp
        fast_ms = time_it(train_step(forward, ours, task, batch, outer_amp), device, steps, 3)
        rows.append({"network": name, "batch": B, "frames": T, "eager_ms": eager_ms,
                     "phonelstm_ms": fast_ms, "eager_frames_s": B * T / eager_ms * 1000,
                     "phonelstm_frames_s": B * T / fast_ms * 1000,
                     "speedup": eager_ms / fast_ms})
        print(f"{name:15s} B={B:<4d} eager {eager_ms:8.1f} ms/step "
              f"{rows[-1]['eager_frames_s']:9.0f} frames/s | phonelstm {fast_ms:8.1f} ms/step "
              f"{rows[-1]['phonelstm_frames_s']:9.0f} frames/s | x{rows[-1]['speedup']:.2f}",
              flush=True)
    return rows


@torch.no_grad()
def bench_decoding(batch_sizes: list[int], T: int, device: torch.device, steps: int
                   ) -> list[dict]:
    """Eval forward + best path of the 5 x 250 BLSTM-CTC (packed, as decoding runs)."""
    inputs, outputs, layers, hidden, _ = NETWORKS["ctc_5x250"]
    model: RecurrentModel = build_model(ModelConfig(hidden=hidden, layers=layers, dropout=0.0,
                                                    stack_frames=1), inputs, outputs)
    model = model.to(device).eval()
    rows = []
    for B in batch_sizes:
        batch = make_batch(B, T, inputs, outputs, device)

        def decode(batch: dict = batch) -> None:
            logits, lengths = model(batch["x"], batch["lengths"])
            greedy_decode(logits.log_softmax(-1), lengths.cpu())

        ms = time_it(decode, device, steps, 2)
        rows.append({"batch": B, "frames": T, "ms": ms, "frames_s": B * T / ms * 1000,
                     "rtf": ms / 1000 / (B * T * 0.01)})
        print(f"decode 5x250    B={B:<4d} {ms:8.1f} ms {rows[-1]['frames_s']:9.0f} frames/s "
              f"real-time factor {rows[-1]['rtf']:.4f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--cudnn", action="store_true",
                        help="fast path with cuDNN's LSTM (trainer.persistent_lstm=false)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    device = torch.device(args.device)
    amp = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.amp]
    name = device_name(device)
    print(f"device: {name}, torch {torch.__version__}, amp {args.amp}, T={args.frames}")
    train_rows = [row for net in args.networks
                  for row in bench_network(net, args.batch_sizes, args.frames, device, amp,
                                           args.steps, not args.cudnn)]
    decode_rows = bench_decoding(sorted({1, max(args.batch_sizes)}), args.frames, device,
                                 args.steps)
    estimate = {}
    for row in train_rows:
        if row["network"] == "ctc_5x250" and row["batch"] == 32:
            estimate = {k: TIMIT_TRAIN_FRAMES / row[f"{k}_frames_s"]
                        for k in ("eager", "phonelstm")}
            print(f"full-TIMIT epoch (5x250, B=32): eager {estimate['eager']:.0f} s, "
                  f"phonelstm {estimate['phonelstm']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "torch": torch.__version__, "amp": args.amp,
                       "persistent_lstm": not args.cudnn,
                       "train": train_rows, "decode": decode_rows,
                       "timit_epoch_seconds": estimate}, f, indent=2)


if __name__ == "__main__":
    main()
