"""speechocean762: phones, stratified speaker splits, FLAC and WAV layouts, download, errors.

The trees are small copies of a speechocean762 training half built from the synthetic corpus
(``tests.layouts``); one test reads the whole real one in ``../shared/data``."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from phonelstm.config import AlignedConfig, DataConfig, Speechocean762Config
from phonelstm.data.aligned import PhoneMap
from phonelstm.data.corpus import DataError
from phonelstm.data.manifest import SPLITS, read_manifest
from phonelstm.data.speechocean762 import (
    prepare_speechocean762,
    read_table,
    sentence_phones,
    word_phones,
)
from phonelstm.phones import TIMIT61
from phonelstm.prepare import prepare_corpus
from tests.conftest import SHARED, shared
from tests.layouts import speechocean762_corpus, speechocean762_tree

SO762 = SHARED / "speechocean762"
# two speakers of each age group and gender: (child|adult, f|m)
ADULTS_F, ADULTS_M = ["0036", "0135"], ["0960", "0482"]
CHILDREN_F, CHILDREN_M = ["0006", "0026"], ["0001", "0005"]
SPEAKERS = ADULTS_F + ADULTS_M + CHILDREN_F + CHILDREN_M


@pytest.fixture(scope="module")
def so762(synth_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A speechocean762 training half of the 8 ``SPEAKERS``, synthetic speech."""
    return speechocean762_corpus(tmp_path_factory.mktemp("speechocean762"), synth_corpus)


def build_tree(dest: Path, train: list[str], **options) -> Path:
    """A small copy of the real training half in ``../shared/data`` (the free_english_ctc
    recipe test runs on one)."""
    return speechocean762_tree(dest, SO762, train, **options)


def read(root: Path, **cfg) -> dict:
    return prepare_speechocean762(Speechocean762Config(**cfg), str(root), root / "out")


def test_hand_checked_phones(tmp_path: Path) -> None:
    """Utterance 009600120, JUST A PIECE OF TODAY, from its text-phone entries: stops and
    affricates get closures, AH0 is ax in A and TODAY, ah in JUST and OF."""
    path = tmp_path / "text-phone"
    path.write_text("009600120.0\tJH_B AH0_I S_I T_E\n009600120.1\tAH0_S\n"
                    "009600120.2\tP_B IY0_I S_E\n009600120.3\tAH0_B V_E\n"
                    "009600120.4\tT_B AH0_I D_I EY1_E\n")
    phones = sentence_phones("009600120", "JUST A PIECE OF TODAY".split(), read_table(path),
                             path, PhoneMap(AlignedConfig(phone_map="arpabet")), "here")
    assert phones == "h# dcl jh ah s tcl t ax pcl p iy s ah v tcl t ax dcl d ey h#".split()


def test_word_phones() -> None:
    phone_map = PhoneMap(AlignedConfig(phone_map="arpabet"))

    def phones(word: str, symbols: str) -> str:
        return " ".join(word_phones(word, symbols.split(), phone_map, "here"))

    assert phones("THE", "DH_B AH0_E") == "dh ax"
    assert phones("WORK", "W_B ER0_I K_E") == "w er kcl k"  # one vowel: stress 0 ignored
    assert phones("TOGETHER", "T_B AH0_I G_I EH0_I DH_I ER0_E") == "tcl t ax gcl g eh dh axr"
    assert phones("CHEERED", "CH_B IH_I AH0_I D_E") == "tcl ch ih ax dcl d"
    with pytest.raises(DataError, match=r"here: symbol 'QQ'"):
        phones("X", "QQ_S")


def test_flac_subset_splits_are_stratified_and_speaker_disjoint(
        tmp_path: Path, so762: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = speechocean762_tree(tmp_path, so762, SPEAKERS)
    splits = read(root, dev_speakers=4, test_speakers=2, seed=3)
    assert "has no test/" in caplog.text
    speakers = {s: {u.speaker for u in splits[s]} for s in SPLITS}
    assert (len(speakers["dev"]), len(speakers["test"]), len(speakers["train"])) == (4, 2, 2)
    assert set.union(*speakers.values()) == set(SPEAKERS)
    assert not (speakers["dev"] & speakers["test"] or speakers["train"] & speakers["dev"]
                or speakers["train"] & speakers["test"])
    # one speaker of each group: adults and children, women and men
    for group in (ADULTS_F, ADULTS_M, CHILDREN_F, CHILDREN_M):
        assert len(speakers["dev"] & set(group)) == 1
    assert splits == read(root, dev_speakers=4, test_speakers=2, seed=3)  # seeded
    other = read(root, dev_speakers=0.5, test_speakers=0.25, seed=4)
    assert len({u.speaker for u in other["dev"]}) == 4
    assert all(p in TIMIT61 for s in SPLITS for u in splits[s] for p in u.phones)
    utt = next(u for s in SPLITS for u in splits[s] if u.speaker == "0960")
    assert (utt.extra["age"], utt.extra["gender"]) == (28, "m")
    assert utt.extra["text"] == read_table(root / "train" / "text")[utt.id][1]


def test_wav_release_layout_with_test_half(tmp_path: Path, so762: Path) -> None:
    """The release: .WAV audio, train/ and test/; test/ is the test split, dev from train/."""
    flac = read(speechocean762_tree(tmp_path / "flac", so762, SPEAKERS), dev_speakers=4,
                test_speakers=2)
    train, test = SPEAKERS[:6], SPEAKERS[6:]
    release = speechocean762_tree(tmp_path / "dl" / "speechocean762", so762, train, test,
                                  wav=True)
    # data.root may also be the folder the archive was unpacked in
    splits = read(tmp_path / "dl", dev_speakers=2, test_speakers=0.9)
    assert {u.speaker for u in splits["test"]} == set(test)
    assert len({u.speaker for u in splits["dev"]}) == 2
    assert all(u.audio.endswith(".WAV") and Path(u.audio).is_relative_to(release)
               for s in SPLITS for u in splits[s])
    by_id = {u.id: u for s in SPLITS for u in flac[s]}
    for utt in (u for s in SPLITS for u in splits[s]):
        assert utt.phones == by_id[utt.id].phones
        assert utt.duration == pytest.approx(by_id[utt.id].duration)


def test_missing_text_phone_entry_is_one_line(tmp_path: Path, so762: Path) -> None:
    utt, (_, text) = next(iter(read_table(so762 / "train" / "text").items()))
    root = speechocean762_tree(tmp_path, so762, SPEAKERS, drop=(f"{utt}.3",))
    with pytest.raises(DataError) as err:
        read(root, dev_speakers=4, test_speakers=2)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(root / "resource" / "text-phone"))
    assert f"no entry {utt}.3 for word 3 ({text.split()[3]}) of utterance {utt}" in message


def _break(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize("breakage,message", [
    (lambda r: (r / "train" / "wav.scp").unlink(), r"train/wav.scp: not found"),
    (lambda r: (r / "train" / "spk2gender").unlink(), r"train/spk2gender: not found"),
    (lambda r: (r / "resource" / "text-phone").unlink(), r"resource/text-phone: not found"),
    (lambda r: _break(r, "train/wav.scp", ".flac", ".wav"), r"wav.scp:1: audio file .* not found"),
    (lambda r: _break(r, "train/spk2age", "\t21", "\ttwenty"),
     r"spk2age:5: age 'twenty' of speaker 0036 is not a whole number"),
    (lambda r: _break(r, "train/spk2gender", "\tf", "\tx"), r"spk2gender:\d+: gender 'x'"),
    (lambda r: _break(r, "train/spk2age", "0036\t21\n", ""), r"spk2age: no age for speaker 0036"),
    (lambda r: _break(r, "train/text", "\t", " \n"), r"text:1: expected '<key> <value>'"),
    (lambda r: _break(r, "train/utt2spk", "000360", "999990"), r"utt2spk: no speaker for"),
])
def test_bad_input_is_one_line(tmp_path: Path, so762: Path, breakage, message: str) -> None:
    root = speechocean762_tree(tmp_path, so762, SPEAKERS)
    breakage(root)
    with pytest.raises(DataError, match=message) as err:
        read(root, dev_speakers=4, test_speakers=2)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("dev,message", [(-1, "a fraction"), (1.5, "a fraction"),
                                         (7, "leave none of the 8")])
def test_bad_speaker_counts(tmp_path: Path, so762: Path, dev: float, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read(speechocean762_tree(tmp_path, so762, SPEAKERS), dev_speakers=dev, test_speakers=2)


def make_release_tarball(tmp_path: Path, so762: Path) -> Path:
    speechocean762_tree(tmp_path / "src" / "speechocean762", so762, SPEAKERS[:6], SPEAKERS[6:],
                        wav=True, per_speaker=1)
    archive = tmp_path / "speechocean762.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "speechocean762", arcname="speechocean762")
    return archive


def download_config(tmp_path: Path, archive: Path, **cfg) -> DataConfig:
    return DataConfig(name="so", corpus="speechocean762", root=None, dir=str(tmp_path / "out"),
                      speechocean762=Speechocean762Config(url=archive.as_uri(), dev_speakers=2,
                                                          **cfg))


def test_download_verify_and_unpack(tmp_path: Path, so762: Path) -> None:
    archive = make_release_tarball(tmp_path, so762)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    cfg = download_config(tmp_path, archive, sha256=sha, archive_bytes=archive.stat().st_size)
    out = prepare_corpus(cfg, force=True)
    assert os.listdir(out / "download") == ["speechocean762"]
    splits = {s: read_manifest(out / f"{s}.jsonl") for s in SPLITS}
    assert {u.speaker for u in splits["test"]} == set(SPEAKERS[6:])
    assert Path(splits["train"][0].audio).is_relative_to(out / "download" / "speechocean762")
    # the copy is found again: no second download
    archive.unlink()
    prepare_corpus(cfg, force=True)


def _evil_tarball(tmp_path: Path) -> Path:
    archive = tmp_path / "speechocean762.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size, info.mtime = 2, int(time.time())
        tar.addfile(info, io.BytesIO(b"hi"))
    return archive


@pytest.mark.parametrize("case,message", [
    ("sha256", r"SHA-256 [0-9a-f]{64} does not match the expected 0+; nothing was kept"),
    ("size", r"downloaded \d+ bytes, expected 12 .*; nothing was kept"),
    ("missing", r"download failed"),
    ("outside", r"cannot unpack the archive"),
    ("no_top", r"the archive has no speechocean762/ folder"),
])
def test_failed_download_leaves_nothing(tmp_path: Path, so762: Path, case: str,
                                       message: str) -> None:
    archive = (_evil_tarball(tmp_path) if case == "outside"
               else make_release_tarball(tmp_path, so762))
    cfg = download_config(tmp_path, archive, archive_bytes=12 if case == "size" else 0,
                          sha256="0" * 64 if case == "sha256" else "")
    if case == "missing":
        archive.unlink()
    if case == "no_top":
        cfg.speechocean762.url = _renamed_top(tmp_path, archive).as_uri()
    with pytest.raises(DataError, match=message) as err:
        prepare_corpus(cfg, force=True)
    assert "\n" not in str(err.value)
    assert os.listdir(tmp_path / "out" / "download") == []
    assert not (tmp_path / "out" / "outside.txt").exists()


def _renamed_top(tmp_path: Path, archive: Path) -> Path:
    renamed = tmp_path / "other.tar.gz"
    with tarfile.open(renamed, "w:gz") as tar:
        tar.add(tmp_path / "src" / "speechocean762", arcname="something_else")
    return renamed


def test_whole_shared_training_half(tmp_path: Path) -> None:
    """The 125 shared speakers: 12/12 speakers for dev/test by default, TIMIT-61 phones."""
    root = shared(SO762, "the speechocean762 training half")
    cfg = DataConfig(name="so", corpus="speechocean762", root=str(root),
                     dir=str(tmp_path / "out"))
    out = prepare_corpus(cfg, force=True)
    splits = {s: read_manifest(out / f"{s}.jsonl") for s in SPLITS}
    assert sum(len(v) for v in splits.values()) == 2500
    assert [len({u.speaker for u in splits[s]}) for s in SPLITS] == [101, 12, 12]
    for split in ("dev", "test"):
        assert {(u.extra["age"] < 16, u.extra["gender"]) for u in splits[split]} == {
            (True, "f"), (True, "m"), (False, "f"), (False, "m")}
    assert all(p in TIMIT61 for s in SPLITS for u in splits[s] for p in u.phones)
