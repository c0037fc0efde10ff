"""Corpus preparers: TIMIT (NLTK and LDC layouts), FSDD, TSV/JSONL tables and TextGrids.

The TIMIT trees are built from the synthetic corpus (``tests.layouts``), FSDD is the few
recordings of ``tests/fixtures/fsdd``."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from praatio import textgrid
from praatio.data_classes.interval_tier import IntervalTier

from phonelstm.config import AlignedConfig, DataConfig, FsddConfig, TimitConfig
from phonelstm.data.corpus import DataError, read_list
from phonelstm.data.fsdd import digit_lexicon
from phonelstm.data.manifest import SPLITS, read_manifest
from phonelstm.data.prepare import prepare_corpus
from phonelstm.data.timit import CORE_TEST_SPEAKERS, DEV_SPEAKERS, TRAIN_SPEAKERS
from phonelstm.phones import TIMIT61
from tests.conftest import FSDD_DIGITS, run_cli
from tests.layouts import SAMPLE_FOLDERS, SAMPLE_SPLIT, ldc_tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from score_digits import digit_from_phones  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def sample_timit_config() -> TimitConfig:
    return TimitConfig(split="speakers", train_speakers=SAMPLE_SPLIT["train"],
                       dev_speakers=SAMPLE_SPLIT["dev"], test_speakers=SAMPLE_SPLIT["test"])


def prepare(tmp_path: Path, corpus: str, root: Path | str | None, **kwargs) -> dict:
    cfg = DataConfig(name=corpus, corpus=corpus, root=str(root) if root else None,
                     dir=str(tmp_path / "out"), **kwargs)
    out = prepare_corpus(cfg, force=True)
    return {split: read_manifest(out / f"{split}.jsonl", allow_empty=True) for split in SPLITS}


def fields(utts: list) -> list[tuple]:
    return [(u.id, u.speaker, u.phones, u.segments, round(u.duration, 4)) for u in utts]


# --- TIMIT -------------------------------------------------------------------------------

def test_timit_sample_cli_and_ldc_tree_agree(tmp_path: Path, timit_sample: Path) -> None:
    out = tmp_path / "nltk"
    result = run_cli("prepare", "data=timit_sample", f"data.root={timit_sample}", f"out={out}",
                     cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "train: 48 utterances, 6 speakers" in result.stdout
    nltk = {s: read_manifest(out / f"{s}.jsonl") for s in SPLITS}
    assert [len(nltk[s]) for s in SPLITS] == [48, 8, 8]  # SA excluded
    assert nltk["dev"][0].id.startswith("falr0_s")
    assert all(p in TIMIT61 for u in nltk["train"] for p in u.phones)

    ldc = prepare(tmp_path, "timit", ldc_tree(tmp_path, timit_sample),
                  timit=sample_timit_config())
    for split in SPLITS:
        assert fields(ldc[split]) == fields(nltk[split])
        assert all(u.audio.endswith(".WAV") for u in ldc[split])


def test_timit_segments_come_from_phn_samples(tmp_path: Path, timit_sample: Path) -> None:
    splits = prepare(tmp_path, "timit", timit_sample,
                     timit=TimitConfig(**{**sample_timit_config().__dict__, "include_sa": True}))
    sa1 = next(u for u in splits["train"] if u.id == "fvmh0_sa1")
    rows = [line.split() for line in (timit_sample / "dr1-fvmh0/sa1.phn").read_text().splitlines()]
    assert sa1.phones == [r[2] for r in rows]
    # manifests keep 5 decimals: sample-exact at 16 kHz (one sample is 62.5 us)
    assert [(round(a * 16000), round(b * 16000)) for a, b in sa1.segments] == [
        (int(r[0]), int(r[1])) for r in rows]
    assert len(splits["train"]) == 60


def test_shipped_split_lists() -> None:
    train, dev, core = (read_list(n) for n in (TRAIN_SPEAKERS, DEV_SPEAKERS, CORE_TEST_SPEAKERS))
    assert (len(set(train)), len(set(dev)), len(set(core))) == (462, 50, 24)
    assert (len(train), len(dev), len(core)) == (462, 50, 24)
    assert not set(train) & set(dev) and not set(train) & set(core) and not set(dev) & set(core)
    assert sum(s.startswith("f") for s in core) == 8  # 1 female + 2 male per dialect region
    assert {folder.split("-")[1] for folder in SAMPLE_FOLDERS} <= set(train)


def test_timit_standard_split_warns_about_missing_speakers(
        tmp_path: Path, timit_sample: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Two sample speakers stand in for a dev speaker and a core-test speaker.
    root = ldc_tree(tmp_path, timit_sample, {"falr0": ("TEST", "faks0"),
                                             "maeb0": ("TEST", "mdab0")})
    with caplog.at_level(logging.WARNING):
        splits = prepare(tmp_path, "timit", root)
    assert [len({u.speaker for u in splits[s]}) for s in SPLITS] == [6, 1, 1]
    assert {u.speaker for u in splits["dev"]} == {"faks0"}
    assert "456 of 462 train speakers not found" in caplog.text
    assert "the standard split has 462 / 3696" in caplog.text
    full = prepare(tmp_path, "timit", root, timit=TimitConfig(full_test=True))
    assert {u.speaker for u in full["test"]} == {"faks0", "mdab0"}


def test_timit_split_by_dialect_region(tmp_path: Path, timit_sample: Path) -> None:
    cfg = TimitConfig(split="regions", train_regions=["dr1", "dr2"], dev_regions=["dr3"],
                      test_regions=["DR4"])
    nltk = prepare(tmp_path, "timit", timit_sample, timit=cfg)
    assert [len({u.speaker for u in nltk[s]}) for s in SPLITS] == [4, 2, 2]
    assert {u.extra["region"] for u in nltk["test"]} == {"dr4"}
    ldc = prepare(tmp_path, "timit", ldc_tree(tmp_path, timit_sample), timit=cfg)
    assert [fields(ldc[s]) for s in SPLITS] == [fields(nltk[s]) for s in SPLITS]
    with pytest.raises(DataError, match=r"no speakers found for data.timit.test_regions=\['dr8'\]"):
        prepare(tmp_path, "timit", timit_sample,
                timit=TimitConfig(**{**cfg.__dict__, "test_regions": ["dr8"]}))


def test_timit_standard_split_without_dev_speakers_is_an_error(tmp_path: Path,
                                                              timit_sample: Path) -> None:
    with pytest.raises(DataError, match="none of the 50 dev speakers"):
        prepare(tmp_path, "timit", timit_sample)


@pytest.mark.parametrize(("index", "line", "message"), [
    (2, "0 100", r"si\d+.phn:3: expected '<start> <end> <phone>'"),
    (2, "0 100 xx", r"si\d+.phn:3: 'xx' is not a TIMIT-61 phone"),
    (-1, "{start} 99999999 h#", r"si\d+.phn:\d+: segment ends at sample 99999999, past the end"),
])
def test_bad_phn_lines(tmp_path: Path, timit_sample: Path, index: int, line: str,
                       message: str) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(timit_sample / "dr1-fvmh0", root / "dr1-fvmh0")
    phn = sorted(root.glob("dr1-fvmh0/si*.phn"))[0]
    lines = phn.read_text().splitlines()
    lines[index] = line.format(start=lines[index].split()[0])
    phn.write_text("\n".join(lines) + "\n")
    cfg = TimitConfig(split="speakers", train_speakers=["fvmh0"], dev_speakers=["x"],
                      test_speakers=["y"])
    with pytest.raises(DataError, match=message):
        prepare(tmp_path, "timit", root, timit=cfg)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_timit_root_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.root is not set"):
        prepare(tmp_path, "timit", None)
    with pytest.raises(DataError, match=r"data.root=.*nowhere: not found"):
        prepare(tmp_path, "timit", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no TIMIT utterances"):
        prepare(tmp_path, "timit", tmp_path / "empty")


def test_missing_and_overlapping_split_speakers(tmp_path: Path, timit_sample: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    lists = {**sample_timit_config().__dict__, "dev_speakers": ["falr0", "fzzz0"]}
    with caplog.at_level(logging.WARNING):
        splits = prepare(tmp_path, "timit", timit_sample, timit=TimitConfig(**lists))
    assert "1 of 2 dev speakers not found: fzzz0" in caplog.text
    assert len(splits["dev"]) == 8
    with pytest.raises(DataError, match="none of the 1 test speakers"):
        prepare(tmp_path, "timit", timit_sample,
                timit=TimitConfig(**{**lists, "test_speakers": ["mzzz0"]}))
    no_test = prepare(tmp_path, "timit", timit_sample,
                      timit=TimitConfig(**{**lists, "test_speakers": []}))
    assert not no_test["test"] and "the test split has no utterances" in caplog.text
    with pytest.raises(DataError, match="'falr0' is listed for both train and dev"):
        prepare(tmp_path, "timit", timit_sample,
                timit=TimitConfig(**{**lists, "train_speakers": ["fvmh0", "falr0"]}))


# --- FSDD --------------------------------------------------------------------------------

def test_fsdd(tmp_path: Path) -> None:
    splits = prepare(tmp_path, "fsdd", FSDD_DIGITS, fsdd=FsddConfig())
    assert [len(splits[s]) for s in SPLITS] == [6, 3, 3]  # digits 0-2 of each speaker
    assert {u.speaker for u in splits["dev"]} == {"lucas"}
    utt = next(u for u in splits["test"] if u.id == "nicolas_2_0")
    assert utt.phones == ["h#", "t", "uw", "h#"] and utt.segments is None
    assert utt.extra == {"text": "two", "digit": "2"} and 0.2 < utt.duration < 2


def test_fsdd_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no FSDD recordings"):
        prepare(tmp_path, "fsdd", tmp_path / "empty")


def test_digit_lexicon_and_digit_from_phones() -> None:
    lexicon = digit_lexicon()
    assert sorted(lexicon) == [str(d) for d in range(10)]
    prons = [pron for _, variants in lexicon.values() for pron in variants]
    assert all(p in TIMIT61 for pron in prons for p in pron)
    assert all(pron[0] == pron[-1] == "h#" for pron in prons)
    for digit, (_, variants) in lexicon.items():
        assert all(digit_from_phones(pron, lexicon) == digit for pron in variants)
    assert digit_from_phones(["s", "eh", "v", "n"], lexicon) == "7"
    assert digit_from_phones(["h#", "f", "ay", "h#"], lexicon) == "5"


# --- aligned corpora ---------------------------------------------------------------------

def write_wav(path: Path, seconds: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sf.write(path, (0.1 * rng.standard_normal(int(16000 * seconds))).astype("float32"), 16000)


def write_textgrid(path: Path, intervals: list[tuple[float, float, str]], tier: str = "phones",
                   end: float = 1.0) -> None:
    grid = textgrid.Textgrid()
    grid.addTier(IntervalTier(tier, intervals, 0, end))
    grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)


MFA = [(0.0, 0.2, "sil"), (0.2, 0.3, "HH"), (0.3, 0.5, "AH0"), (0.5, 0.6, "L"),
       (0.6, 0.7, "OW1"), (0.75, 0.9, "K"), (0.9, 1.0, "sp")]


def test_textgrid_folder(tmp_path: Path) -> None:
    root = tmp_path / "aligned"
    for split, speaker in (("train", "s1"), ("train", "s2"), ("dev", "s3"), ("test", "s4")):
        write_wav(root / split / speaker / "u1.wav")
        write_textgrid(root / split / speaker / "u1.TextGrid", MFA)
    splits = prepare(tmp_path, "textgrid", root, aligned=AlignedConfig(phone_map="arpabet"))
    assert [len(splits[s]) for s in SPLITS] == [2, 1, 1]
    utt = splits["dev"][0]
    assert utt.id == "s3_u1" and utt.speaker == "s3"
    # the gap 0.7-0.75 becomes pau; sil and sp at the edges become h#
    assert utt.phones == ["h#", "hh", "ax", "l", "ow", "pau", "k", "h#"]
    assert utt.segments[5] == (0.7, 0.75) and utt.segments[-1] == (0.9, 1.0)


def test_textgrid_errors(tmp_path: Path) -> None:
    root = tmp_path / "aligned"
    write_wav(root / "s1/u1.wav")
    write_textgrid(root / "s1/u1.TextGrid", [(0.0, 0.5, "sil"), (0.5, 0.8, "QQ1")])
    cfg = AlignedConfig(phone_map="arpabet", split="speakers", train_speakers=["s1"])
    with pytest.raises(DataError, match=r"u1.TextGrid: symbol 'QQ1' is not in the phone map"):
        prepare(tmp_path, "textgrid", root, aligned=cfg)
    with pytest.raises(DataError, match=r"u1.TextGrid: no tier 'words'"):
        prepare(tmp_path, "textgrid", root, aligned=AlignedConfig(tier="words"))
    write_textgrid(root / "s1/u1.TextGrid", [(0.0, 1.5, "sil")], end=1.5)
    with pytest.raises(DataError, match="past the end of its audio"):
        prepare(tmp_path, "textgrid", root, aligned=cfg)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no TextGrid files found"):
        prepare(tmp_path, "textgrid", tmp_path / "none")


def test_tsv_manifest_with_speaker_split(tmp_path: Path) -> None:
    for speaker in ("a", "b", "c"):
        write_wav(tmp_path / "audio" / speaker / "x.wav")
    rows = ["audio\tphones\ttimes"] + [
        f"audio/{s}/x.wav\th# s IY1 h#\t0 0.2 0.4 0.6 1.0" for s in ("a", "b", "c")]
    table = tmp_path / "corpus.tsv"
    table.write_text("\n".join(rows) + "\n")
    cfg = AlignedConfig(split="speakers", train_speakers=["a"], dev_speakers=["b"],
                        test_speakers=["c"], phone_map_dict={"IY1": "iy"})
    splits = prepare(tmp_path, "manifest", table, aligned=cfg)
    assert splits["train"][0].phones == ["h#", "s", "iy", "h#"]
    assert splits["train"][0].segments == [(0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 1.0)]
    with pytest.raises(DataError, match=r"corpus.tsv:2: symbol 'IY1' is not in the phone map"):
        prepare(tmp_path, "manifest", table, aligned=AlignedConfig(split="speakers"))
    table.write_text("\n".join([*rows, rows[1]]) + "\n")
    with pytest.raises(DataError, match="duplicate utterance id 'a_x'"):
        prepare(tmp_path, "manifest", table, aligned=cfg)
    table.write_text("\n".join([rows[0].replace("phones", "labels"), *rows[1:]]) + "\n")
    with pytest.raises(DataError, match="must name the columns audio and phones"):
        prepare(tmp_path, "manifest", table, aligned=cfg)
    table.write_text("\n".join([*rows, "audio/a/x.wav"]) + "\n")  # a row with one field
    with pytest.raises(DataError, match=r"corpus.tsv:5: 1 of the header's 3 tab-separated "
                                        r"fields \(missing: phones, times\)"):
        prepare(tmp_path, "manifest", table, aligned=cfg)
    table.write_text("\n".join([*rows[:2], rows[2] + "\textra"]) + "\n")
    with pytest.raises(DataError, match=r"corpus.tsv:3: more fields than the header's 3"):
        prepare(tmp_path, "manifest", table, aligned=cfg)


def test_jsonl_per_split_and_ready_manifests(tmp_path: Path) -> None:
    root = tmp_path / "tables"
    for split, speaker in (("train", "a"), ("dev", "b"), ("test", "a")):
        write_wav(root / f"{speaker}.wav")
        (root / f"{split}.jsonl").write_text(
            f'{{"id": "{split}1", "audio": "{speaker}.wav", "speaker": "{speaker}", '
            '"phones": ["h#", "aa", "h#"]}\n')
    with pytest.raises(DataError, match="speaker 'a' is in more than one split"):
        prepare(tmp_path, "manifest", root)
    (root / "test.jsonl").write_text((root / "test.jsonl").read_text().replace('"a"', '"c"'))
    splits = prepare(tmp_path, "manifest", root)
    assert [u.id for s in SPLITS for u in splits[s]] == ["train1", "dev1", "test1"]
    # corpus=manifest without data.root: the manifests in data.dir are used as they are
    ready = DataConfig(name="manifest", corpus="manifest", dir=str(tmp_path / "out"))
    assert prepare_corpus(ready) == tmp_path / "out"
    with pytest.raises(DataError, match=r"no train.jsonl, dev.jsonl, test.jsonl"):
        prepare_corpus(DataConfig(corpus="manifest", dir=str(tmp_path / "none")))


def test_evaluation_only_corpus_has_just_a_test_split(tmp_path: Path, caplog) -> None:
    write_wav(tmp_path / "audio" / "c" / "x.wav")
    table = tmp_path / "corpus.tsv"
    table.write_text("audio\tphones\naudio/c/x.wav\th# s iy h#\n")
    with caplog.at_level("WARNING", logger="phonelstm.data"):
        splits = prepare(tmp_path, "manifest", table,
                         aligned=AlignedConfig(split="speakers", test_speakers=["c"]))
    assert [len(splits[s]) for s in SPLITS] == [0, 0, 1]
    assert any("train and dev splits have no utterances" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(DataError, match="all empty"):
        prepare(tmp_path, "manifest", table, aligned=AlignedConfig(split="speakers"))
