"""phonelstm.data.lexicon: dictionary forms, the TIMIT-style rules, the eSpeak NG fallback."""

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from phonelstm.config import AlignedConfig, DataConfig, LexiconConfig
from phonelstm.data.corpus import DataError
from phonelstm.data.lexicon import Lexicon, LexiconError, espeak_pron, read_dictionary, words_of
from phonelstm.data.prepare import load_split, prepare_corpus
from phonelstm.phones import TIMIT61


def lexicon_of(tmp_path: Path, text: str, **rules: bool) -> Lexicon:
    path = tmp_path / "lexicon.dict"
    path.write_text(text)
    return Lexicon(LexiconConfig(dictionary=str(path), **rules))


def said(lexicon: Lexicon, text: str) -> str:
    return " ".join(lexicon.sentence(words_of(text), "test"))


def test_dictionary_forms(tmp_path: Path) -> None:
    text = (";;; a CMUdict comment line\n"
            "tomato T AH0 M EY1 T OW2 # the first variant\n"
            "tomato(2) T AH0 M AA1 T OW2\n"
            "ROAD\tR OW1 D\n"  # LibriSpeech lexicon: upper case, tab
            "road\t0.99\t0.12\t1.0\t1.0\tR OW1 D Z\n")  # MFA: probability columns first
    lexicon = lexicon_of(tmp_path, text, flap=False, reduce=False, unreleased=False)
    assert [len(lexicon.variants(w, "t")) for w in ("tomato", "Road")] == [2, 2]
    assert said(lexicon, "tomato") == "h# tcl t ax m ey tcl t ow h#"
    assert lexicon.sentence(["tomato"], "t", choice=[1])[5] == "aa"
    assert said(lexicon, "road") == "h# r ow dcl d h#"


@pytest.mark.parametrize(("text", "message"), [
    ("cat K AE1 X\n", r"lexicon.dict:1: 'X' is not an ARPAbet phone"),
    ("cat\n", r"lexicon.dict:1: 'cat' has no phones"),
    ("# only a comment\n", "no pronunciations"),
])
def test_dictionary_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        lexicon_of(tmp_path, text)


def test_missing_dictionary_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match=r"data.lexicon.dictionary=.*nope.dict: file not found"):
        Lexicon(LexiconConfig(dictionary=str(tmp_path / "nope.dict")))


def test_shipped_cmudict() -> None:
    entries = read_dictionary("cmudict")
    assert len(entries) > 120_000
    assert entries["tomato"][:2] == (("T", "AH0", "M", "EY1", "T", "OW2"),
                                     ("T", "AH0", "M", "AA1", "T", "OW2"))


def test_words_of_a_transcript() -> None:
    assert words_of("MISTER QUILTER'S manner, 'twas well-known!") == [
        "mister", "quilter's", "manner", "twas", "well-known"]


def test_rules_bring_canonical_phones_closer_to_speech() -> None:
    lexicon = Lexicon()
    # closures before stops and affricates, none right after silence; h# at both ends
    assert said(lexicon, "two") == "h# t uw h#"
    assert said(lexicon, "eight") == "h# ey tcl t h#"
    # flapping: t/d after a vowel (or vowel + r) before an unstressed vowel, and a word's
    # last t/d before a vowel-initial word; not before a stressed vowel
    assert said(lexicon, "butter") == "h# b ah dx axr h#"
    assert said(lexicon, "party") == "h# p aa r dx iy h#"
    assert said(lexicon, "get it") == "h# g eh dx ih tcl t h#"
    assert "tcl t ae" in said(lexicon, "attack")
    # reductions: schwa before coronals and velars is ix, ax + l/n/m syllabic
    assert said(lexicon, "seven") == "h# s eh v en h#"
    assert said(lexicon, "little") == "h# l ih dx el h#"
    assert said(lexicon, "the cat") == "h# dh ix kcl k ae tcl t h#"
    # a stop before another word's consonant keeps its closure only
    assert said(lexicon, "hand you") == "h# hh ae n dcl y uw h#"
    plain = Lexicon(replace(LexiconConfig(), flap=False, reduce=False, unreleased=False))
    assert said(plain, "two") == "h# tcl t uw h#"
    assert said(plain, "butter") == "h# bcl b ah tcl t axr h#"
    assert said(plain, "seven") == "h# s eh v ax n h#"
    assert said(plain, "hand you") == "h# hh ae n dcl d y uw h#"


def test_unknown_words_fall_back_to_espeak() -> None:
    lexicon = Lexicon()
    phones = lexicon.sentence(["the", "blorptastic", "frobnicator"], "test")
    assert phones[:3] == ["h#", "dh", "ax"] and phones[-1] == "h#"
    assert set(phones) <= set(TIMIT61) and len(phones) > 12
    assert lexicon.fallback_words == {"blorptastic": 1, "frobnicator": 1}
    strict = Lexicon(LexiconConfig(fallback="none"))
    with pytest.raises(LexiconError, match=r"corpus.txt:3: 'blorptastic' is not in the dict"
                                           r"ionary \(cmudict\) and data.lexicon.fallback=none"):
        strict.sentence(["blorptastic"], "corpus.txt:3")
    with pytest.raises(LexiconError, match="data.lexicon.fallback='g2p'"):
        Lexicon(LexiconConfig(fallback="g2p"))


def test_espeak_pronounces_dictionary_words_with_mapped_phonemes() -> None:
    """Every eSpeak NG phoneme the fallback meets has a TIMIT-61 mapping (a sample of words
    of every kind: names, borrowings, long words)."""
    lexicon = Lexicon()
    words = sorted(w for w in lexicon.entries if w.isalpha())
    for word in random.Random(0).sample(words, 300):
        assert all(phone in TIMIT61 for phone, _ in espeak_pron(word, "test"))


def test_a_manifest_text_column_is_pronounced(tmp_path: Path) -> None:
    """``data=manifest``: a TSV with the words instead of phones."""
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        sf.write(tmp_path / name / "x.wav", np.zeros(16000, "float32") + 0.01, 16000)
    table = tmp_path / "corpus.tsv"
    rows = ["audio\ttext\tsplit", "a/x.wav\tSeven, two!\ttrain", "b/x.wav\tbutter\tdev",
            "c/x.wav\tthe blorptastic cat\ttest"]
    table.write_text("\n".join(rows) + "\n")
    cfg = DataConfig(corpus="manifest", root=str(table), dir=str(tmp_path / "out"),
                     aligned=AlignedConfig())
    prepare_corpus(cfg)
    train = load_split(cfg, "train")
    assert train[0].phones == ["h#", "s", "eh", "v", "en", "tcl", "t", "uw", "h#"]
    assert train[0].extra["text"] == "Seven, two!" and train[0].segments is None
    assert load_split(cfg, "test")[0].phones[:3] == ["h#", "dh", "ax"]
    table.write_text("\n".join([rows[0], "a/x.wav\t\ttrain"]) + "\n")
    with pytest.raises(DataError, match=r"corpus.tsv:2: neither phones nor text"):
        prepare_corpus(DataConfig(corpus="manifest", root=str(table), dir=str(tmp_path / "o2")))
