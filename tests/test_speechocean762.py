"""speechocean762: phones, stratified speaker splits, FLAC and WAV layouts, download, errors."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from pathlib import Path

import pytest
import soundfile as sf

from phonelstm.config import AlignedConfig, DataConfig, Speechocean762Config
from phonelstm.data.aligned import PhoneMap
from phonelstm.data.corpus import DataError
from phonelstm.data.manifest import SPLITS, read_manifest
from phonelstm.data.speechocean762 import prepare_speechocean762, word_phones
from phonelstm.phones import TIMIT61
from phonelstm.prepare import prepare_corpus
from tests.conftest import SHARED

SO762 = SHARED / "speechocean762"
# two speakers of each age group and gender: (child|adult, f|m)
ADULTS_F, ADULTS_M = ["0036", "0135"], ["0960", "0482"]
CHILDREN_F, CHILDREN_M = ["0006", "0026"], ["0001", "0005"]
SPEAKERS = ADULTS_F + ADULTS_M + CHILDREN_F + CHILDREN_M
HAND_CHECKED = "009600120"  # speaker 0960: JUST A PIECE OF TODAY


@pytest.fixture(autouse=True)
def _shared() -> None:
    if not SO762.is_dir():
        pytest.skip(f"{SO762} not found")


def _lines(path: Path) -> list[list[str]]:
    return [line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip()]


def build_tree(dest: Path, train: list[str], test: list[str] = (), wav: bool = False,
               per_speaker: int = 2, drop: tuple[str, ...] = ()) -> Path:
    """A small copy of the shared corpus: ``per_speaker`` utterances of each speaker (plus
    the hand-checked one), FLAC in place or converted to ``.WAV`` as released, ``test/``
    when ``test`` speakers are given; ``drop``: text-phone keys to leave out."""
    utt2spk = dict(_lines(SO762 / "train" / "utt2spk"))
    wavs = dict(_lines(SO762 / "train" / "wav.scp"))
    kept = set()
    for half, speakers in (("train", train), ("test", test)):
        if not speakers:
            continue
        folder = dest / half
        folder.mkdir(parents=True)
        utts = [u for s in speakers for u in sorted(k for k, v in utt2spk.items() if v == s)
                [:per_speaker]]
        utts += [HAND_CHECKED] if utt2spk[HAND_CHECKED] in speakers else []
        kept |= set(utts)
        scp = []
        for utt in utts:
            if wav:
                name = Path(wavs[utt]).with_suffix(".WAV")
                audio, rate = sf.read(SO762 / wavs[utt], dtype="int16")
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                sf.write(dest / name, audio, rate, subtype="PCM_16", format="WAV")
            else:
                name = Path(wavs[utt])
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                (dest / name).symlink_to(SO762 / wavs[utt])
            scp.append(f"{utt}\t{name}\n")
        (folder / "wav.scp").write_text("".join(scp))
        for table in ("text", "utt2spk"):
            rows = [r for r in _lines(SO762 / "train" / table) if r[0] in utts]
            (folder / table).write_text("".join(f"{k}\t{v}\n" for k, v in rows))
        for table in ("spk2age", "spk2gender"):
            rows = [r for r in _lines(SO762 / "train" / table) if r[0] in speakers]
            (folder / table).write_text("".join(f"{k}\t{v}\n" for k, v in rows))
    (dest / "resource").mkdir()
    rows = [r for r in _lines(SO762 / "resource" / "text-phone")
            if r[0].split(".")[0] in kept and r[0] not in drop]
    (dest / "resource" / "text-phone").write_text("".join(f"{k}\t{v}\n" for k, v in rows))
    return dest


def read(root: Path, **cfg) -> dict:
    return prepare_speechocean762(Speechocean762Config(**cfg), str(root), root / "out")


def test_hand_checked_phones(tmp_path: Path) -> None:
    """Stops and affricates get closures, AH0 is ax in A and TODAY, ah in JUST and OF."""
    splits = read(build_tree(tmp_path, SPEAKERS), dev_speakers=4, test_speakers=2)
    utt = next(u for s in SPLITS for u in splits[s] if u.id == HAND_CHECKED)
    assert utt.phones == "h# dcl jh ah s tcl t ax pcl p iy s ah v tcl t ax dcl d ey h#".split()
    assert (utt.speaker, utt.extra) == ("0960", {"text": "JUST A PIECE OF TODAY", "age": 28,
                                                 "gender": "m"})


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
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = build_tree(tmp_path, SPEAKERS)
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


def test_wav_release_layout_with_test_half(tmp_path: Path) -> None:
    """The release: .WAV audio, train/ and test/; test/ is the test split, dev from train/."""
    flac = read(build_tree(tmp_path / "flac", SPEAKERS), dev_speakers=4, test_speakers=2)
    train, test = SPEAKERS[:6], SPEAKERS[6:]
    release = build_tree(tmp_path / "dl" / "speechocean762", train, test, wav=True)
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


def test_missing_text_phone_entry_is_one_line(tmp_path: Path) -> None:
    root = build_tree(tmp_path, SPEAKERS, drop=(f"{HAND_CHECKED}.3",))
    with pytest.raises(DataError) as err:
        read(root, dev_speakers=4, test_speakers=2)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(root / "resource" / "text-phone"))
    assert f"no entry {HAND_CHECKED}.3 for word 3 (OF) of utterance {HAND_CHECKED}" in message


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
def test_bad_input_is_one_line(tmp_path: Path, breakage, message: str) -> None:
    root = build_tree(tmp_path, SPEAKERS)
    breakage(root)
    with pytest.raises(DataError, match=message) as err:
        read(root, dev_speakers=4, test_speakers=2)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("dev,message", [(0, "a fraction"), (1.5, "a fraction"),
                                         (7, "leave none of the 8")])
def test_bad_speaker_counts(tmp_path: Path, dev: float, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read(build_tree(tmp_path, SPEAKERS), dev_speakers=dev, test_speakers=2)


def make_release_tarball(tmp_path: Path) -> Path:
    build_tree(tmp_path / "src" / "speechocean762", SPEAKERS[:6], SPEAKERS[6:], wav=True,
               per_speaker=1)
    archive = tmp_path / "speechocean762.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "speechocean762", arcname="speechocean762")
    return archive


def download_config(tmp_path: Path, archive: Path, **cfg) -> DataConfig:
    return DataConfig(name="so", corpus="speechocean762", root=None, dir=str(tmp_path / "out"),
                      speechocean762=Speechocean762Config(url=archive.as_uri(), dev_speakers=2,
                                                          **cfg))


def test_download_verify_and_unpack(tmp_path: Path) -> None:
    archive = make_release_tarball(tmp_path)
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
def test_failed_download_leaves_nothing(tmp_path: Path, case: str, message: str) -> None:
    archive = _evil_tarball(tmp_path) if case == "outside" else make_release_tarball(tmp_path)
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
    cfg = DataConfig(name="so", corpus="speechocean762", root=str(SO762),
                     dir=str(tmp_path / "out"))
    out = prepare_corpus(cfg, force=True)
    splits = {s: read_manifest(out / f"{s}.jsonl") for s in SPLITS}
    assert sum(len(v) for v in splits.values()) == 2500
    assert [len({u.speaker for u in splits[s]}) for s in SPLITS] == [101, 12, 12]
    for split in ("dev", "test"):
        assert {(u.extra["age"] < 16, u.extra["gender"]) for u in splits[split]} == {
            (True, "f"), (True, "m"), (False, "f"), (False, "m")}
    assert all(p in TIMIT61 for s in SPLITS for u in splits[s] for p in u.phones)
