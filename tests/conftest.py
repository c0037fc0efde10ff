"""Shared fixtures: real TIMIT-sample utterances as a tiny manifest corpus, seeded runs."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
import torch

from phonelstm.data.manifest import Utterance, write_manifest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TIMIT_SAMPLE = SHARED / "timit_sample"
FSDD = SHARED / "fsdd"


def timit_sample_utterances() -> dict[str, list[Utterance]]:
    """The NLTK TIMIT sample read directly from its .phn files, by speaker folder."""
    if not TIMIT_SAMPLE.is_dir():
        pytest.skip(f"{TIMIT_SAMPLE} not found")
    speakers: dict[str, list[Utterance]] = {}
    for folder in sorted(TIMIT_SAMPLE.glob("dr*-*")):
        for phn in sorted(folder.glob("*.phn")):
            rows = [line.split() for line in phn.read_text().splitlines() if line.strip()]
            wav = phn.with_suffix(".wav")
            speakers.setdefault(folder.name, []).append(Utterance(
                id=f"{folder.name}_{phn.stem}", audio=str(wav), speaker=folder.name,
                phones=[r[2] for r in rows],
                segments=[(int(r[0]) / 16000, int(r[1]) / 16000) for r in rows],
                duration=sf.info(wav).frames / 16000,
            ))
    return speakers


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifests over the TIMIT sample: 6 speakers train, 1 dev, 1 test."""
    speakers = timit_sample_utterances()
    names = sorted(speakers)
    out = tmp_path_factory.mktemp("sample_corpus")
    write_manifest(out / "train.jsonl", [u for s in names[:6] for u in speakers[s]])
    write_manifest(out / "dev.jsonl", speakers[names[6]])
    write_manifest(out / "test.jsonl", speakers[names[7]])
    return out


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _signal_handlers() -> Iterator[None]:
    """A test that leaves SIGINT or SIGTERM handled otherwise than it found them fails, and
    the handler is put back: later tests' children would inherit an ignored signal."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    changed = {s: h for s, h in before.items() if signal.getsignal(s) != h}
    for signum, handler in changed.items():
        signal.signal(signum, handler)
    assert not changed, f"the test left {', '.join(s.name for s in changed)} changed"


def run_cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:  # noqa: F821
    """Run ``python -m phonelstm.<module> args`` as a user would run the console script."""
    import subprocess

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", f"phonelstm.{module}", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="session")
def trained_checkpoints(sample_corpus: Path, tmp_path_factory: pytest.TempPathFactory
                        ) -> dict[str, Path]:
    """One small framewise and one small CTC checkpoint, trained once per test session.

    The framewise one trains 3 epochs on the 6 sample training speakers, enough for forced
    alignment on the held-out speakers; the CTC one memorises 4 utterances, so that it
    emits phones (its times and formats are what the tests check, not its accuracy).
    """
    from phonelstm.config import DataConfig, ModelConfig, OptimConfig, TrainConfig, TrainerConfig
    from phonelstm.data.manifest import read_manifest
    from phonelstm.training.loop import train

    out = tmp_path_factory.mktemp("trained")
    few = out / "few"
    for split in ("train", "dev", "test"):
        write_manifest(few / f"{split}.jsonl", read_manifest(sample_corpus / "train.jsonl")[:4])
    runs = {"framewise": (sample_corpus, 3, 1, 8), "ctc": (few, 25, 2, 1)}
    for task, (data, epochs, stack, batch) in runs.items():
        train(TrainConfig(
            data=DataConfig(name=task, corpus="manifest", dir=str(data), max_batch_size=batch),
            model=ModelConfig(hidden=48 if task == "framewise" else 64, layers=1, dropout=0.0,
                              stack_frames=stack),
            optim=OptimConfig(lr=5e-3, plateau_patience=100),
            trainer=TrainerConfig(task=task, max_epochs=epochs, patience=0, eval_test=False),
            out_dir=str(out / task),
        ))
    return {task: out / task / "best.pt" for task in runs}
