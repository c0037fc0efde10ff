"""A real (tiny) training run: a BLSTM-CTC overfits a few TIMIT-sample utterances."""

import json

from phonelstm.config import DataConfig, ModelConfig, OptimConfig, TrainConfig, TrainerConfig
from phonelstm.data.manifest import read_manifest, write_manifest
from phonelstm.recognizer import Recognizer
from phonelstm.training.loop import train


def tiny_corpus(sample_corpus, tmp_path, n=4):
    utts = read_manifest(sample_corpus / "train.jsonl")[:n]
    for split in ("train", "dev", "test"):
        write_manifest(tmp_path / f"{split}.jsonl", utts)
    return tmp_path


def test_ctc_overfits_a_few_utterances(sample_corpus, tmp_path):
    data = tiny_corpus(sample_corpus, tmp_path / "data")
    cfg = TrainConfig(
        data=DataConfig(name="tiny", corpus="manifest", dir=str(data), max_batch_size=1),
        model=ModelConfig(hidden=96, layers=2, dropout=0.0, stack_frames=2),
        optim=OptimConfig(lr=3e-3, plateau_patience=100),
        trainer=TrainerConfig(max_epochs=60, patience=0, score_phones=61),
        out_dir=str(tmp_path / "exp"),
    )
    results = train(cfg)
    assert results["test"] < 15.0, results  # PER on the (memorised) utterances
    phones = Recognizer.from_checkpoint(tmp_path / "exp" / "best.pt").transcribe(
        read_manifest(data / "train.jsonl")[0].audio)
    assert phones and all(p.start < p.end for p in phones)
    assert json.loads((data / "train.jsonl").read_text().splitlines()[0])["id"]
