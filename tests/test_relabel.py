"""Pronunciation variants chosen by a CTC model (phonelstm.relabel, scripts/relabel.py)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from phonelstm.config import LexiconConfig
from phonelstm.data.corpus import DataError
from phonelstm.data.lexicon import Lexicon
from phonelstm.data.manifest import Utterance, read_manifest, write_manifest
from phonelstm.phones import Vocabulary
from phonelstm.recognizer import Recognizer
from phonelstm.relabel import choose_variants, relabel

ROOT = Path(__file__).resolve().parents[1]


def spiky_log_probs(phones: list[str], vocab: Vocabulary) -> torch.Tensor:
    """(T', C) log posteriors that say ``phones``, each phone one frame between blanks."""
    frames = []
    for phone in phones:
        frames += [vocab.index(phone), 0]
    log_probs = torch.full((len(frames), len(vocab)), -20.0)
    log_probs[torch.arange(len(frames)), torch.tensor(frames)] = 0.0
    return log_probs.log_softmax(-1)


def test_the_variant_the_model_hears_is_chosen(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.dict"
    path.write_text("the DH AH0\nthe(2) DH IY0\ncat K AE1 T\neats IY1 T S\n")
    lexicon = Lexicon(LexiconConfig(dictionary=str(path)))
    vocab = Vocabulary.for_ctc()
    heard = lexicon.sentence(["the", "eats"], "t", choice=[1, 0])
    assert heard == ["h#", "dh", "iy", "iy", "tcl", "t", "s", "h#"]
    phones, changed = choose_variants(spiky_log_probs(heard, vocab), ["the", "eats"], lexicon,
                                      vocab, "t")
    assert (phones, changed) == (heard, 1)
    first = lexicon.sentence(["the", "cat"], "t")
    assert choose_variants(spiky_log_probs(first, vocab), ["the", "cat"], lexicon, vocab,
                           "t") == (first, 0)


def test_relabel_a_manifest(trained_checkpoints, tmp_path: Path) -> None:
    source = read_manifest(trained_checkpoints["ctc"].parent.parent / "few" / "train.jsonl")
    utts = [Utterance(u.id, u.audio, u.speaker, Lexicon().sentence(["the", "cat"], u.id),
                      duration=u.duration, extra={"text": "the cat"}) for u in source[:2]]
    recognizer = Recognizer.from_checkpoint(trained_checkpoints["ctc"])
    relabelled, changed = relabel(utts, recognizer, Lexicon(), "m.jsonl")
    assert [u.id for u in relabelled] == [u.id for u in utts] and 0 <= changed <= 2
    assert all(u.phones[0] == u.phones[-1] == "h#" for u in relabelled)
    no_text = [Utterance(u.id, u.audio, u.speaker, u.phones) for u in utts]
    with pytest.raises(DataError, match=r"m.jsonl: utterance .* has no text field"):
        relabel(no_text, recognizer, Lexicon(), "m.jsonl")
    manifest = tmp_path / "train.jsonl"
    write_manifest(manifest, utts)
    script = [sys.executable, "scripts/relabel.py", str(trained_checkpoints["ctc"]),
              str(manifest), "--device", "cpu"]
    result = subprocess.run([*script, "--out", str(tmp_path / "train_variants.jsonl")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "2 utterances" in result.stdout
    assert len(read_manifest(tmp_path / "train_variants.jsonl")) == 2
    same = subprocess.run([*script, "--out", str(manifest)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert same.returncode != 0 and "would overwrite the input manifest" in same.stderr
