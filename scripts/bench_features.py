"""Feature extraction speed: seconds of audio per second of compute, per pipeline and backend.

    python scripts/bench_features.py [AUDIO_DIR] [--batch 16] [--repeats 3] [--threads N]

Reads every ``*.wav`` under AUDIO_DIR (default ``../shared/data/timit_sample``), then times
the ``conf/features/{fbank123,mfcc26}.yaml`` pipelines with each backend on the CPU, batched
(padded batches of ``--batch`` utterances) and per utterance, and with the torchaudio backend
on the GPU (batched) when CUDA is available. Audio loading is not timed; the best of
``--repeats`` passes is reported.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from omegaconf import OmegaConf

from phonelstm.audio import load_audio
from phonelstm.config import FeatureConfig, to_dataclass
from phonelstm.features import BACKENDS, FeatureExtractor

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("fbank123", "mfcc26")


def batches(waves: list[torch.Tensor], size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Padded ``(B, N)`` batches of similar lengths, with their lengths."""
    waves = sorted(waves, key=len)
    out = []
    for i in range(0, len(waves), size):
        chunk = waves[i : i + size]
        out.append((torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True),
                    torch.tensor([len(w) for w in chunk])))
    return out


def best_seconds(run: Callable[[], None], repeats: int, sync: Callable[[], None]) -> float:
    run()  # warm-up (allocations, lazy imports, kernels)
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio_dir", nargs="?", default=ROOT.parent / "shared/data/timit_sample",
                        type=Path)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    files = sorted(args.audio_dir.rglob("*.wav"))
    if not files:
        raise SystemExit(f"{args.audio_dir}: no .wav files")
    waves = [load_audio(f) for f in files]
    audio_seconds = sum(len(w) for w in waves) / 16000
    print(f"{len(files)} files, {audio_seconds:.1f} s of audio, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'pipeline':<9} {'backend':<11} {'device':<6} {'mode':<14} audio s / s")

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for name in PIPELINES:
        cfg = to_dataclass(FeatureConfig, OmegaConf.load(ROOT / "conf/features" / f"{name}.yaml"))
        for backend in BACKENDS:
            for device in devices:
                if device == "cuda" and backend != "torchaudio":
                    continue  # the librosa backend runs on the CPU only
                sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
                extractor = FeatureExtractor(replace(cfg, backend=backend)).to(device)
                modes = {f"batched x{args.batch}": batches(waves, args.batch)}
                if device == "cpu":
                    modes["per utterance"] = batches(waves, 1)
                for mode, data in modes.items():
                    data = [(w.to(device), n.to(device)) for w, n in data]

                    def run(data=data, extractor=extractor) -> None:
                        for wave, lengths in data:
                            extractor(wave, lengths)

                    seconds = best_seconds(run, args.repeats, sync)
                    print(f"{name:<9} {backend:<11} {device:<6} {mode:<14} "
                          f"{audio_seconds / seconds:10.0f}")


if __name__ == "__main__":
    main()
