"""Data-parallel training under torchrun, two CPU processes with gloo."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from phonelstm.checkpoint import load_checkpoint
from phonelstm.data.corpus import DataError
from phonelstm.data.dataset import BucketBatchSampler
from phonelstm.data.manifest import read_manifest, write_manifest
from phonelstm.training import distributed
from tests.conftest import run_cli


def test_ranks_share_every_global_batch_between_them():
    lengths = [7, 3, 9, 4, 4, 8, 2, 6, 5, 9, 1]
    single = BucketBatchSampler(lengths, max_frames=20, max_batch=8, seed=3)
    ranks = [BucketBatchSampler(lengths, max_frames=20, max_batch=8, seed=3, num_replicas=2,
                                rank=r) for r in (0, 1)]
    global_batches = ranks[0].batches()
    assert len(ranks[0]) == len(ranks[1]) == len(global_batches)
    shards = [list(r) for r in ranks]
    for batch, a, b in zip(global_batches, *shards, strict=True):
        assert len(batch) >= 2 and sorted(a + b) == sorted(batch) and not set(a) & set(b)
    # whatever the split, the epoch covers every utterance once
    assert sorted(i for batch in global_batches for i in batch) == list(range(len(lengths)))
    assert sorted(i for batch in single for i in batch) == list(range(len(lengths)))


def test_sharding_errors_name_the_cause():
    with pytest.raises(DataError, match="3 utterances cannot be shared by 4 processes"):
        BucketBatchSampler([5, 6, 7], max_frames=100, num_replicas=4)
    with pytest.raises(DataError, match="data.max_batch_size=2"):
        BucketBatchSampler([5] * 10, max_frames=100, max_batch=2, num_replicas=4)


def _broadcast_and_average(rank: int, init_file: str) -> None:
    """One of two gloo ranks: rank 0's weights reach rank 1, and the gradients (a missing
    one counting as zeros) are averaged on both."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    ctx = distributed.Context(rank, 2, enabled=True)
    torch.manual_seed(rank)
    model = torch.nn.Linear(3, 2)
    model.register_buffer("steps", torch.tensor(rank))
    distributed.broadcast_module(ctx, model)
    torch.manual_seed(0)
    expected = torch.nn.Linear(3, 2)
    assert torch.equal(model.weight, expected.weight) and torch.equal(model.bias, expected.bias)
    assert model.steps == 0
    model.weight.grad = torch.full((2, 3), 1.0 + 2 * rank)  # 1 on rank 0, 3 on rank 1
    model.bias.grad = torch.full((2,), 4.0) if rank else None
    distributed.average_gradients(ctx, model.parameters())
    assert torch.equal(model.weight.grad, torch.full((2, 3), 2.0))
    assert torch.equal(model.bias.grad, torch.full((2,), 2.0))
    dist.destroy_process_group()


def test_broadcast_module_and_average_gradients_over_two_ranks(tmp_path):
    mp.spawn(_broadcast_and_average, args=(str(tmp_path / "rendezvous"),), nprocs=2)


def corpus(sample_corpus: Path, out: Path, n_train: int) -> Path:
    utts = read_manifest(sample_corpus / "train.jsonl")
    write_manifest(out / "train.jsonl", utts[:n_train])
    write_manifest(out / "dev.jsonl", utts[-2:])
    write_manifest(out / "test.jsonl", utts[-2:])
    return out


def overrides(data: Path, out: Path, *extra: str) -> list[str]:
    return [f"data.dir={data}", "data=manifest", "data.max_batch_size=4", "model.layers=2",
            "model.stack_frames=3", "trainer.device=cpu",
            "trainer.num_threads=1", "trainer.patience=0", "trainer.eval_test=false",
            f"out_dir={out}", *extra]


def torchrun(nproc: int, args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             f"--nproc_per_node={nproc}", "-m", "phonelstm.train", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc: subprocess.Popen) -> str:
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-3000:]
    return output


@pytest.mark.parametrize("fast", [False, True], ids=["ddp", "fast"])
def test_two_processes_train_as_one_over_the_same_global_batch(sample_corpus, tmp_path, fast):
    # 7 utterances: batches of 4 and 3, so a rank's shard can be 1 utterance and the static
    # shapes add padding rows
    data = corpus(sample_corpus, tmp_path / "data", n_train=7)
    # SGD (Adam's normalised steps amplify summation-order differences), no dropout; the fast
    # path (no DDP: one gradient all-reduce per step) against the one-process fast path
    args = ["model.hidden=32", "model.dropout=0", "optim.name=sgd", "optim.lr=0.01",
            "optim.schedule=none", "trainer.max_epochs=2", f"trainer.fast={str(fast).lower()}"]
    single = run_cli("train", *overrides(data, tmp_path / "single", *args), cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    output = finish(torchrun(2, overrides(data, tmp_path / "ddp", *args), cwd=tmp_path))

    a = load_checkpoint(tmp_path / "single" / "last.pt")
    b = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert a["progress"]["step"] == b["progress"]["step"] == 4  # 2 epochs of 2 batches
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert len(b["rng_ranks"]) == 2
    log = (tmp_path / "ddp" / "train.log").read_text()
    assert "2 processes" in log and log.count("epoch 1:") == 1  # rank 0 alone logs
    assert "Traceback" not in output


def test_a_killed_two_process_run_resumes_to_the_uninterrupted_result(sample_corpus, tmp_path):
    data = corpus(sample_corpus, tmp_path / "data", n_train=16)
    # dropout and weight noise draw from each rank's own RNG, restored on resume; steps long
    # enough (128 cells) for the kill to land mid-run
    args = ["model.hidden=128", "model.dropout=0.1", "trainer.weight_noise=0.01",
            "trainer.max_epochs=3", "trainer.save_every_steps=1"]
    finish(torchrun(2, overrides(data, tmp_path / "straight", *args), cwd=tmp_path))

    out = tmp_path / "killed"
    proc = torchrun(2, overrides(data, out, *args), cwd=tmp_path)
    while not (out / "last.pt").exists() and proc.poll() is None:  # written after step 1
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)  # as a job scheduler stops a job: torchrun kills its ranks
    proc.communicate(timeout=120)
    killed_at = load_checkpoint(out / "last.pt")["progress"]["step"]
    assert 1 <= killed_at < 12, killed_at  # 3 epochs of 4 batches
    output = finish(torchrun(2, overrides(data, out, *args), cwd=tmp_path))
    assert "resuming from" in output or "resuming from" in (out / "train.log").read_text()

    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(out / "last.pt")
    assert a["progress"]["step"] == b["progress"]["step"] == 12
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("fast", [False, True], ids=["ddp", "graphs"])
def test_torchrun_with_one_gpu_process_matches_the_plain_run(sample_corpus, tmp_path, fast):
    # fast: CUDA graphs in both runs, torchrun's with the gradient all-reduce instead of DDP
    data = corpus(sample_corpus, tmp_path / "data", n_train=8)
    args = ["model.hidden=32", "model.dropout=0", "trainer.max_epochs=2",
            f"trainer.fast={str(fast).lower()}"]
    on_gpu = lambda out: [a.replace("device=cpu", "device=cuda")  # noqa: E731
                          for a in overrides(data, tmp_path / out, *args)]
    plain = run_cli("train", *on_gpu("plain"), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr[-3000:]
    finish(torchrun(1, on_gpu("torchrun"), cwd=tmp_path))
    a = load_checkpoint(tmp_path / "plain" / "last.pt")
    b = load_checkpoint(tmp_path / "torchrun" / "last.pt")
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=1e-4, atol=1e-5, msg=key)
