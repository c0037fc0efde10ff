"""Shared fixtures: a small synthetic corpus and the corpus layouts built from it
(``tests/layouts.py``), a few real recordings (``tests/fixtures/``), seeded runs, and the real
corpora of ``../shared/data`` for the few tests whose figures only they give."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from phonelstm.data.manifest import read_manifest, write_manifest
from phonelstm.data.synth.corpus import prepare_synth
from tests.layouts import SYNTH, timit_sample_tree

ROOT = Path(__file__).resolve().parents[1]
# the real corpora, for the few tests whose figures only they give
SHARED = ROOT.parent / "shared" / "data"
TIMIT_SAMPLE = SHARED / "timit_sample"
FSDD = SHARED / "fsdd"
# digits 0-2 of the 4 FSDD speakers (george, jackson, lucas, nicolas), recording index 0
FSDD_DIGITS = Path(__file__).parent / "fixtures" / "fsdd"


def shared(path: Path, what: str) -> Path:
    """``path``, a corpus of ``../shared/data``, or a skip saying what the test needs and
    where it looks."""
    if not path.is_dir():
        pytest.skip(f"needs {what} at {path} (not in the repository)")
    return path


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic corpus of ``tests.layouts.SYNTH``: 6 train voices, 1 dev, 1 test."""
    return prepare_synth(SYNTH, tmp_path_factory.mktemp("synth") / "corpus")


@pytest.fixture(scope="session")
def sample_corpus(synth_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifests with phone times: the synthetic corpus's 6 train voices (60 utterances),
    1 dev and 1 test voice (10 each), in a folder of their own."""
    out = tmp_path_factory.mktemp("sample_corpus")
    for split in ("train", "dev", "test"):
        write_manifest(out / f"{split}.jsonl", read_manifest(synth_corpus / f"{split}.jsonl"))
    return out


@pytest.fixture(scope="session")
def timit_sample(synth_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TIMIT sample's layout and speakers (``dr1-fvmh0/sa1.wav``, ...), synthetic speech."""
    return timit_sample_tree(tmp_path_factory.mktemp("timit_sample"), synth_corpus)


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


def run_cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m phonelstm.<module> args`` as a user would run the console script."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", f"phonelstm.{module}", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="session")
def trained_checkpoints(sample_corpus: Path, tmp_path_factory: pytest.TempPathFactory
                        ) -> dict[str, Path]:
    """One small framewise and one small CTC checkpoint, trained once per test session.

    The framewise one trains 3 epochs on the 6 training voices, enough for forced alignment
    on the held-out ones; the CTC one memorises 4 utterances, so that it emits phones (its
    times and formats are what the tests check, not its accuracy).
    """
    from phonelstm.config import DataConfig, ModelConfig, OptimConfig, TrainConfig, TrainerConfig
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
