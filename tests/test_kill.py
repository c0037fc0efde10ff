"""A training process killed with SIGKILL mid-epoch resumes to the uninterrupted result."""

import signal
import subprocess
import sys
import time

import torch

from phonelstm.checkpoint import load_checkpoint


def _command(corpus, out) -> list[str]:
    return [sys.executable, "-m", "phonelstm.train", "data.corpus=manifest", "data.name=s",
            f"data.dir={corpus}", "data.max_batch_size=8", "model.hidden=16", "model.layers=1",
            "trainer.max_epochs=2", "trainer.save_every_steps=1", "trainer.weight_noise=0.01",
            "trainer.eval_test=false", "trainer.device=cpu", f"out_dir={out}"]


def _step(path) -> tuple[int, int]:
    progress = load_checkpoint(path)["progress"]
    return progress["step"], progress["batches_done"]


def test_sigkill_mid_epoch_then_resume_equals_the_uninterrupted_run(sample_corpus, tmp_path):
    subprocess.run(_command(sample_corpus, tmp_path / "straight"), check=True,
                   capture_output=True, cwd=tmp_path, timeout=600)
    last = tmp_path / "killed" / "last.pt"
    process = subprocess.Popen(_command(sample_corpus, tmp_path / "killed"), cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not (last.is_file() and _step(last)[1] >= 3):  # in the first epoch's batches
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    step, batches_done = _step(last)
    assert batches_done > 0  # killed mid-epoch, not between epochs
    resumed = subprocess.run(_command(sample_corpus, tmp_path / "killed"), cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(last)
    assert a["progress"]["step"] == b["progress"]["step"] > step
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
