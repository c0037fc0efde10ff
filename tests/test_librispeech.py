"""data=librispeech on LibriSpeech trees built here: splits, errors, download."""

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from phonelstm.config import DataConfig, LexiconConfig, LibrispeechConfig
from phonelstm.data import librispeech
from phonelstm.data.corpus import DataError
from phonelstm.data.prepare import prepare_corpus
from tests.conftest import run_cli

# speaker -> (gender, subset, chapter)
SPEAKERS = {"19": ("F", "train-clean-100", "198"), "26": ("M", "train-clean-100", "495"),
            "32": ("F", "train-clean-100", "21625"), "27": ("M", "train-clean-100", "123349"),
            "1272": ("M", "dev-clean", "128104"), "2035": ("F", "dev-clean", "147960")}
TEXTS = ("MISTER BROWN IS THE APOSTLE OF THE MIDDLE CLASSES", "HE TELLS US THAT AT THIS SEASON",
         "NOR IS MISTER BROWN'S MANNER LESS INTERESTING THAN HIS MATTER")


def write_audio(path: Path, seconds: float = 2.5) -> None:
    noise = 0.05 * np.random.default_rng(len(path.name)).standard_normal(int(16000 * seconds))
    sf.write(path, noise.astype("float32"), 16000)


def build_tree(root: Path, speakers: dict = SPEAKERS, suffix: str = ".flac") -> Path:
    """``root/LibriSpeech``: each speaker reads ``TEXTS`` in one chapter of its subset."""
    top = root / "LibriSpeech"
    lines = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for speaker, (gender, subset, chapter) in speakers.items():
        folder = top / subset / speaker / chapter
        folder.mkdir(parents=True)
        trans = []
        for n, text in enumerate(TEXTS):
            utt = f"{speaker}-{chapter}-{n:04d}"
            write_audio(folder / f"{utt}{suffix}")
            trans.append(f"{utt} {text}")
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(trans) + "\n")
        lines.append(f"{speaker:<5}| {gender} | {subset:<17}| 25.00 | Reader {speaker}")
    (top / "SPEAKERS.TXT").write_text("\n".join(lines) + "\n")
    return top


def prepare(root: Path | None, out: Path, **settings) -> dict:
    cfg = DataConfig(name="librispeech", corpus="librispeech",
                     root=str(root) if root else None, dir=str(out),
                     librispeech=LibrispeechConfig(**settings))
    prepare_corpus(cfg)
    return {split: [json.loads(line) for line in (out / f"{split}.jsonl").open()]
            for split in ("train", "dev", "test")}


def test_subsets_as_splits(tmp_path: Path) -> None:
    build_tree(tmp_path)
    splits = prepare(tmp_path, tmp_path / "out", subsets=["train-clean-100"],
                     dev_subsets=["dev-clean"], test_speakers=0.25)
    speakers = {split: {u["speaker"] for u in utts} for split, utts in splits.items()}
    assert speakers["dev"] == {"1272", "2035"}
    assert len(speakers["train"]) == 3 and len(speakers["test"]) == 1
    first = splits["dev"][0]
    assert first["id"] == "1272-128104-0000" and first["gender"] == "m"
    assert first["text"] == TEXTS[0]
    assert first["phones"][:5] == ["h#", "m", "ih", "s", "tcl"]
    assert first["phones"][-1] == "h#" and first["duration"] == pytest.approx(2.5)


def test_dev_and_test_speakers_drawn_by_gender(tmp_path: Path) -> None:
    build_tree(tmp_path)
    splits = prepare(tmp_path / "LibriSpeech", tmp_path / "out",
                     subsets=["train-clean-100", "dev-clean"], dev_speakers=2, test_speakers=2)
    genders = {split: sorted(u["gender"] for u in utts[::3]) for split, utts in splits.items()}
    assert genders == {"train": ["f", "m"], "dev": ["f", "m"], "test": ["f", "m"]}
    again = prepare(tmp_path, tmp_path / "again", subsets=["train-clean-100", "dev-clean"],
                    dev_speakers=2, test_speakers=2)
    assert again == splits  # seeded


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_other_audio_formats(tmp_path: Path, suffix: str) -> None:
    try:
        build_tree(tmp_path, {"19": SPEAKERS["19"], "26": SPEAKERS["26"]}, suffix)
    except sf.LibsndfileError:
        pytest.skip(f"this libsndfile cannot write {suffix}")
    splits = prepare(tmp_path, tmp_path / "out", dev_speakers=1, test_speakers=0,
                     subsets=["train-clean-100"])
    assert {u["audio"][-4:] for u in splits["train"]} == {suffix}


def chapter(root: Path) -> Path:
    return root / "LibriSpeech" / "train-clean-100" / "19" / "198"


@pytest.mark.parametrize(("damage", "message"), [
    (lambda c: (c / "19-198-0001.flac").unlink(),
     r"19-198.trans.txt:2: no audio 19-198-0001.flac/.wav/.mp3 beside it"),
    (lambda c: write_audio(c / "19-198-0007.flac"),
     r"19-198-0007.flac: no transcript line in .*19-198.trans.txt"),
    (lambda c: (c / "19-198-0002.flac").write_bytes(b"not audio"),
     r"19-198-0002.flac: cannot read audio header"),
    (lambda c: (c / "19-198.trans.txt").write_text("19-198-0000\n"),
     r"19-198.trans.txt:1: expected '<speaker>-<chapter>-<n> WORD WORD ...'"),
    (lambda c: (c / "19-198.trans.txt").unlink(),
     r"198: audio folder without a .trans.txt transcript"),
    (lambda c: (c.parents[2] / "SPEAKERS.TXT").unlink(), r"SPEAKERS.TXT: not found"),
])
def test_bad_input_names_the_file(tmp_path: Path, damage, message: str) -> None:
    build_tree(tmp_path)
    damage(chapter(tmp_path))
    with pytest.raises(DataError, match=message):
        prepare(tmp_path, tmp_path / "out", subsets=["train-clean-100", "dev-clean"])
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_a_word_nobody_can_pronounce_names_the_line(tmp_path: Path) -> None:
    build_tree(tmp_path)
    trans = chapter(tmp_path) / "19-198.trans.txt"
    trans.write_text(trans.read_text().replace("SEASON", "SEASONZQX"))
    cfg = DataConfig(corpus="librispeech", root=str(tmp_path), dir=str(tmp_path / "out"),
                     librispeech=LibrispeechConfig(subsets=["train-clean-100", "dev-clean"]),
                     lexicon=LexiconConfig(fallback="none"))
    with pytest.raises(DataError, match=r"19-198.trans.txt:2: 'seasonzqx' is not in the "
                                        r"dictionary"):
        prepare_corpus(cfg)
    # with the eSpeak NG fallback (the default) the word is pronounced and counted
    splits = prepare(tmp_path, tmp_path / "out", subsets=["train-clean-100", "dev-clean"])
    assert sum(len(s) for s in splits.values()) == 18


def test_missing_subset_lists_what_is_there(tmp_path: Path) -> None:
    build_tree(tmp_path)
    with pytest.raises(DataError, match=r"no subset folder test-clean \(found: dev-clean, "
                                        r"train-clean-100\)"):
        prepare(tmp_path, tmp_path / "out", test_subsets=["test-clean"])


def test_download_checks_and_unpacks_each_subset(tmp_path: Path, monkeypatch) -> None:
    """Without data.root the missing subsets come from OpenSLR: here a file:// copy of a
    tarball laid out as LibriSpeech's, with its SHA-256 in the table."""
    build_tree(tmp_path / "release")
    server = tmp_path / "server"
    server.mkdir()
    for subset in ("train-clean-100", "dev-clean"):
        archive = server / f"{subset}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(tmp_path / "release" / "LibriSpeech" / subset, f"LibriSpeech/{subset}")
            tar.add(tmp_path / "release" / "LibriSpeech" / "SPEAKERS.TXT",
                    "LibriSpeech/SPEAKERS.TXT")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        monkeypatch.setitem(librispeech.SHA256, subset, digest)
    out = tmp_path / "data"
    splits = prepare(None, out, subsets=["train-clean-100"], dev_subsets=["dev-clean"],
                     url=server.as_uri())
    copy = out / "download" / "LibriSpeech"
    assert sorted(p.name for p in copy.iterdir()) == ["SPEAKERS.TXT", "dev-clean",
                                                       "train-clean-100"]
    assert len(splits["dev"]) == 6
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    # a changed archive is refused and leaves nothing behind
    shutil.rmtree(out)
    monkeypatch.setitem(librispeech.SHA256, "dev-clean", "0" * 64)
    with pytest.raises(DataError, match="does not match the expected"):
        prepare(None, out, subsets=["train-clean-100"], dev_subsets=["dev-clean"],
                url=server.as_uri())
    assert not (out / "download" / "LibriSpeech" / "dev-clean").exists()
    with pytest.raises(DataError, match="'train-clean-5' is not a LibriSpeech subset"):
        prepare(None, out, subsets=["train-clean-5"])


def test_prepare_command(tmp_path: Path) -> None:
    build_tree(tmp_path)
    result = run_cli("prepare", "data=librispeech", f"data.root={tmp_path}",
                     f"data.dir={tmp_path / 'out'}", "data.librispeech.dev_speakers=1",
                     "data.librispeech.test_speakers=1",
                     "data.librispeech.subsets=[train-clean-100]", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "train: 6 utterances, 2 speakers" in result.stdout
    bad = run_cli("prepare", "data=librispeech", f"data.root={tmp_path / 'nowhere'}",
                  f"data.dir={tmp_path / 'out2'}", cwd=tmp_path)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].endswith("nowhere: not found (resolved to "
                                                        f"{tmp_path / 'nowhere'})")
