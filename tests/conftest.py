"""Shared fixtures: real TIMIT-sample utterances as a tiny manifest corpus, seeded runs."""

from __future__ import annotations

import os
import sys
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


def run_cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:  # noqa: F821
    """Run ``python -m phonelstm.<module> args`` as a user would run the console script."""
    import subprocess

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", f"phonelstm.{module}", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)
