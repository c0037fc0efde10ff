"""Training time per epoch against the output frame rate (frame stacking), on real batches.

    python scripts/bench_frame_rate.py data/librispeech/train.jsonl --stacks 1 2 3 4
    python scripts/bench_frame_rate.py data/librispeech/train.jsonl --threads 2 --batches 12

Stacking ``k`` feature frames (``model.stack_frames``, one output every ``10 k`` ms) shortens
the sequence the recurrent layers run over ``k`` times, as Sak et al. (2015) did for CTC
phone models at 30 ms. This times a training step (forward, CTC in fp32, backward, Adam) of
the recipe's 3 x 192 BLSTM-CTC (``--hidden``, ``--layers``) at each stacking on the same
batches of a manifest (length-bucketed as training forms them, features extracted once
beforehand, so only the network is timed), and prints ms per batch and the projected time of
an epoch over the whole manifest, with the ratio to ``--stacks``' first value. A batch with
an utterance that has fewer output frames than labels at a stacking is counted, not timed.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from phonelstm.config import DataConfig, FeatureConfig, ModelConfig, TrainConfig
from phonelstm.data.loader import make_loader
from phonelstm.data.manifest import read_manifest
from phonelstm.features import FeatureExtractor, normalize
from phonelstm.losses import ctc_loss
from phonelstm.model import build_model
from phonelstm.phones import Vocabulary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--stacks", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--batches", type=int, default=8, help="batches timed per stacking")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    utts = read_manifest(args.manifest)
    features = FeatureConfig(normalize="utterance", wave_scale=32768)
    cfg = TrainConfig(data=DataConfig(), features=features)
    vocab = Vocabulary.for_ctc()
    loader, sampler = make_loader(utts, vocab, cfg, shuffle=True)
    extractor = FeatureExtractor(features)
    batches = []
    with torch.no_grad():
        for batch, _ in zip(loader, range(args.batches), strict=False):
            feats, lengths = extractor(batch.wave, batch.wave_lengths)
            batches.append((normalize(feats, lengths, None, features), lengths,
                            batch.targets, batch.target_lengths))
    frames = sum(int(b[1].sum()) for b in batches)
    print(f"{args.manifest}: {len(utts)} utterances, {len(sampler)} batches an epoch; timing "
          f"{len(batches)} of them ({frames} frames), {args.threads} thread(s), "
          f"{args.layers} x {args.hidden} BLSTM-CTC")
    first = None
    for k in args.stacks:
        torch.manual_seed(0)
        model = build_model(replace(ModelConfig(), hidden=args.hidden, layers=args.layers,
                                    stack_frames=k), extractor.dim, len(vocab))
        optimizer = torch.optim.Adam(model.parameters())
        seconds, timed, too_short = 0.0, 0, 0
        for x, lengths, targets, target_lengths in batches:
            outputs = (lengths + k - 1) // k
            if bool((outputs < target_lengths).any()):
                too_short += 1
                continue
            start = time.perf_counter()
            logits, out_lengths = model(x, lengths)
            ctc_loss(logits, out_lengths, targets, target_lengths).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            seconds += time.perf_counter() - start
            timed += 1
        per_batch = seconds / max(timed, 1)
        epoch = per_batch * len(sampler) / 60
        first = first or epoch
        note = f", {too_short} batch(es) too short for their labels" if too_short else ""
        print(f"stack {k} ({10 * k} ms frames): {1000 * per_batch:7.0f} ms per batch, "
              f"{epoch:5.1f} min an epoch (x{epoch / first:.2f}){note}", flush=True)


if __name__ == "__main__":
    main()
