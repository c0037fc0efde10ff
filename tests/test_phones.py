import pytest

from phonelstm.phones import BLANK, TIMIT39, TIMIT48, TIMIT61, UnknownPhoneError, Vocabulary, fold


def test_inventory_sizes():
    assert len(TIMIT61) == len(set(TIMIT61)) == 61
    assert len(TIMIT48) == 48
    assert len(TIMIT39) == 39


def test_folding_examples():
    assert fold(["ao", "ax-h", "axr", "bcl", "pcl", "h#", "pau", "epi"]) == [
        "aa", "ah", "er", "sil", "sil", "sil", "sil", "sil"]
    assert fold(["el", "en", "eng", "nx", "hv", "ux", "zh", "ix", "em"]) == [
        "l", "n", "ng", "n", "hh", "uw", "sh", "ih", "m"]
    assert fold(["ao", "ix", "bcl", "kcl"], 48) == ["ao", "ix", "vcl", "cl"]


def test_q_is_dropped_and_folding_is_idempotent():
    assert fold(["q", "aa", "q"]) == ["aa"]
    once = fold(TIMIT61)
    assert fold(once) == once
    assert set(once) == set(TIMIT39)
    assert fold(TIMIT61, 61) == list(TIMIT61)


def test_unknown_phone_is_an_error():
    with pytest.raises(UnknownPhoneError, match="'xx'"):
        fold(["aa", "xx"])
    with pytest.raises(ValueError):
        fold(["aa"], 40)


def test_ctc_vocabulary_has_blank_first():
    vocab = Vocabulary.for_ctc()
    assert vocab.symbols[0] == BLANK and len(vocab) == 62 and vocab.has_blank
    ids = vocab.encode(["h#", "sh", "iy"])
    assert 0 not in ids and vocab.decode(ids) == ["h#", "sh", "iy"]
    frames = Vocabulary.for_frames()
    assert len(frames) == 61 and not frames.has_blank
    with pytest.raises(UnknownPhoneError):
        vocab.index("xx")
