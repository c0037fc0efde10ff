"""Lhotse in and out: ours -> Lhotse -> ours unchanged, Lhotse's own TIMIT recipe read and
trained on, spans of a multi-channel recording, one clear line for bad Lhotse input.

Lhotse's ``prepare_timit`` runs on an LDC tree built like the TIMIT sample (from the synthetic
corpus, ``tests.layouts``) once the tree has
the ``data/`` level it globs (``<corpus>/data/{TRAIN,TEST}/*/*/*.WAV``) and the ``.TXT`` and
``.WRD`` files it reads beside each ``.WAV``; its DEV and TEST parts are its own speaker lists,
so the two dr4 sample speakers stand in for a dev (faks0) and a core-test (mdab0) speaker. It
keeps the SA sentences, and writes ids ``FAKS0-SI1955`` and speakers ``FAKS0``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from phonelstm.audio import load_audio
from phonelstm.config import (
    DataConfig,
    FeatureConfig,
    LhotseConfig,
    ModelConfig,
    TimitConfig,
    TrainConfig,
    TrainerConfig,
)
from phonelstm.data.corpus import DataError
from phonelstm.data.dataset import SpeechDataset
from phonelstm.data.manifest import SPLITS, Utterance, read_manifest
from phonelstm.data.prepare import check_export, export_corpus, prepare_corpus
from phonelstm.data.timit import scan
from phonelstm.phones import Vocabulary, fold
from phonelstm.recognizer import Recognizer
from tests.conftest import FSDD_DIGITS, run_cli
from tests.layouts import SAMPLE_SPLIT, ldc_tree
from tests.test_corpora import sample_timit_config

lhotse = pytest.importorskip("lhotse")
ROOT = Path(__file__).resolve().parents[1]
# Lhotse's TIMIT recipe in its 48/39-phone sets: its symbols outside TIMIT-61, each mapped to
# a TIMIT-61 phone that folds back to it
FOLDED_SILENCES = {48: {"sil": "h#", "cl": "tcl", "vcl": "bcl"}, 39: {"sil": "h#"}}


def prepare(tmp_path: Path, name: str, **data) -> dict[str, list[Utterance]]:
    cfg = DataConfig(name=name, dir=str(tmp_path / name), **data)
    out = prepare_corpus(cfg, force=True)
    return {split: read_manifest(out / f"{split}.jsonl", allow_empty=True) for split in SPLITS}


def read_lhotse(tmp_path: Path, root: Path, **splits: list[str]) -> dict[str, list[Utterance]]:
    return prepare(tmp_path, "back", corpus="lhotse", root=str(root),
                   lhotse=LhotseConfig(**splits))


def fvmh0(timit_sample: Path) -> list[Utterance]:
    """The utterances of one speaker of the sample tree, SA sentences first."""
    return [u for u, _ in scan(timit_sample, include_sa=True) if u.speaker == "fvmh0"]


@pytest.mark.parametrize("corpus", ["timit_sample", "fsdd"])
def test_ours_to_lhotse_and_back_is_identical(corpus: str, tmp_path: Path,
                                              timit_sample: Path) -> None:
    if corpus == "timit_sample":
        data = {"corpus": "timit", "root": str(timit_sample), "timit": sample_timit_config()}
    else:
        data = {"corpus": "fsdd", "root": str(FSDD_DIGITS)}
    ours = prepare(tmp_path, corpus, **data)
    out = export_corpus(DataConfig(name=corpus, dir=str(tmp_path / corpus), **data), "lhotse")
    for split in SPLITS:
        cuts = lhotse.load_manifest(out / f"{corpus}_cuts_{split}.jsonl.gz")
        lhotse.validate(cuts, read_data=True)
        lhotse.validate_recordings_and_supervisions(
            *(lhotse.load_manifest(out / f"{corpus}_{kind}_{split}.jsonl.gz")
              for kind in ("recordings", "supervisions")))
    for kinds in (["cuts"], ["recordings", "supervisions"]):
        back = read_lhotse(tmp_path, out, **{
            split: [f"{corpus}_{kind}_{split}.jsonl.gz" for kind in kinds] for split in SPLITS})
        for split in SPLITS:
            assert [u.to_json() for u in back[split]] == [u.to_json() for u in ours[split]]


def lhotse_timit(tmp_path: Path, timit_sample: Path, num_phones: int) -> Path:
    """Lhotse's TIMIT recipe run on the sample's LDC tree; returns its manifest folder."""
    from lhotse.recipes import prepare_timit

    tree = ldc_tree(tmp_path, timit_sample, {"falr0": ("TEST", "faks0"),
                                             "maeb0": ("TEST", "mdab0")})
    corpus = tmp_path / "lhotse_timit"
    corpus.mkdir()
    (corpus / "data").symlink_to(tree)
    prepare_timit(corpus, tmp_path / "manifests", num_phones=num_phones)
    return tmp_path / "manifests"


def timit_parts(kinds: tuple[str, ...] = ("recordings", "supervisions")) -> dict[str, list[str]]:
    return {split: [f"timit_{kind}_{part}.jsonl.gz" for kind in kinds]
            for split, part in (("train", "TRAIN"), ("dev", "DEV"), ("test", "TEST"))}


@pytest.mark.parametrize("num_phones", [60, 48, 39])
def test_lhotse_timit_recipe_gives_our_manifests(num_phones: int, tmp_path: Path,
                                                 timit_sample: Path) -> None:
    manifests = lhotse_timit(tmp_path, timit_sample, num_phones)
    theirs = read_lhotse(tmp_path, manifests, **timit_parts(),
                         phone_map_dict=FOLDED_SILENCES.get(num_phones, {}))
    timit = TimitConfig(split="speakers", include_sa=True, train_speakers=SAMPLE_SPLIT["train"],
                        dev_speakers=["faks0"], test_speakers=["mdab0"])
    ours = prepare(tmp_path, "ours", corpus="timit", root=str(tmp_path / "TIMIT"), timit=timit)
    target = 61 if num_phones == 60 else num_phones
    for split in SPLITS:
        by_id = {u.id.lower().replace("-", "_"): u for u in theirs[split]}
        assert sorted(by_id) == [u.id for u in ours[split]] and len(by_id) == (60, 10, 10)[
            SPLITS.index(split)]
        for utt in ours[split]:
            other = by_id[utt.id]
            assert (other.speaker.lower(), Path(other.audio).resolve(), other.offset) == (
                utt.speaker, Path(utt.audio).resolve(), None)
            assert other.duration == pytest.approx(utt.duration, abs=1e-6)
            assert fold(other.phones, target) == fold(utt.phones, target)
            kept = [seg for p, seg in zip(utt.phones, utt.segments, strict=True)
                    if num_phones == 60 or p != "q"]
            assert np.allclose(other.segments, kept, atol=1e-3)


def test_tiny_training_reads_a_lhotse_cutset(tmp_path: Path, timit_sample: Path) -> None:
    from phonelstm.training.loop import train

    manifests = lhotse_timit(tmp_path, timit_sample, 60)
    for part, count in (("TRAIN", 6), ("DEV", 2), ("TEST", 2)):
        recordings, supervisions = (
            lhotse.load_manifest(manifests / name) for name in timit_parts()[part.lower()])
        cuts = lhotse.CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
        cuts.subset(first=count).to_file(manifests / f"timit_cuts_{part}.jsonl.gz")
    data = DataConfig(name="lhotse", corpus="lhotse", root=str(manifests),
                      dir=str(tmp_path / "data"), lhotse=LhotseConfig(**timit_parts(("cuts",))))
    results = train(TrainConfig(
        data=data, model=ModelConfig(hidden=16, layers=1, dropout=0.0, stack_frames=2),
        trainer=TrainerConfig(max_epochs=1, patience=0), out_dir=str(tmp_path / "exp")))
    assert (tmp_path / "exp" / "best.pt").is_file() and "test" in results
    utt = read_manifest(tmp_path / "data" / "train.jsonl")[0]
    # decoding reads an utterance's span alone, as training does
    span = dataclasses.replace(utt, offset=0.5, duration=1.0)
    recognizer = Recognizer.from_checkpoint(tmp_path / "exp" / "best.pt")
    assert np.array_equal(recognizer.load(span).numpy(), load_audio(utt.audio)[8000:24000])
    (result,), failed = recognizer.decode_utterances([span])
    assert not failed and result.duration == pytest.approx(1.0)


def test_spans_and_channels_of_a_long_recording(tmp_path: Path, timit_sample: Path) -> None:
    """Four TIMIT utterances as spans of one stereo file (a, b on the left, b, a on the right)
    and the whole file mixed down: each reads back as its own audio, times and phones."""
    a, b = fvmh0(timit_sample)[:2]
    wave_a, wave_b = (sf.read(u.audio, dtype="int16")[0] for u in (a, b))
    stereo = np.stack([np.concatenate([wave_a, wave_b]), np.concatenate([wave_b, wave_a])], 1)
    sf.write(tmp_path / "long.wav", stereo, 16000, subtype="PCM_16")
    rec = lhotse.Recording.from_file(tmp_path / "long.wav", recording_id="long")

    def supervision(utt: Utterance, sup_id: str, start: float, channel) -> object:
        phones = [lhotse.supervision.AlignmentItem(p, start + s, e - s)
                  for p, (s, e) in zip(utt.phones, utt.segments, strict=True)]
        return lhotse.SupervisionSegment(sup_id, "long", start, utt.duration, channel=channel,
                                         speaker="fvmh0", alignment={"phone": phones})

    spans = {"a_left": (a, 0.0, 0), "b_left": (b, a.duration, 0), "b_right": (b, 0.0, 1),
             "a_right": (a, b.duration, 1)}
    sups = [supervision(u, name, start, ch) for name, (u, start, ch) in spans.items()]
    mix = lhotse.SupervisionSegment("mix", "long", 0.0, rec.duration, channel=[0, 1],
                                    speaker="fvmh0", text="h# ah h#")
    lhotse.RecordingSet.from_recordings([rec]).to_file(tmp_path / "recordings.jsonl.gz")
    lhotse.SupervisionSet.from_segments([*sups, mix]).to_file(tmp_path / "supervisions.jsonl.gz")
    cuts = lhotse.CutSet.from_manifests(lhotse.RecordingSet.from_recordings([rec]),
                                        lhotse.SupervisionSet.from_segments(sups))
    cuts.to_file(tmp_path / "whole.jsonl.gz")
    with pytest.raises(DataError, match=r"cut long-0: 4 supervisions; .*trim_to_supervisions"):
        read_lhotse(tmp_path, tmp_path, train=["whole.jsonl.gz"])
    cuts.trim_to_supervisions(keep_overlapping=False).to_file(tmp_path / "cuts.jsonl.gz")

    from_cuts = read_lhotse(tmp_path, tmp_path, train=["cuts.jsonl.gz"])["train"]
    pairs = read_lhotse(tmp_path, tmp_path, train=["recordings.jsonl.gz",
                                                   "supervisions.jsonl.gz"])["train"]
    assert [u.to_json() for u in pairs if u.id != "mix"] == [u.to_json() for u in from_cuts]
    dataset = SpeechDataset(pairs, Vocabulary.for_ctc(), FeatureConfig())
    for index, utt in enumerate(pairs):
        if utt.id == "mix":
            assert (utt.offset, utt.channel, utt.segments, utt.phones) == (
                None, None, None, ["h#", "ah", "h#"])
            continue
        original, start, channel = spans[utt.id]
        assert (utt.offset, utt.channel) == (pytest.approx(start), channel)
        assert utt.duration == pytest.approx(original.duration)
        assert utt.phones == original.phones
        assert np.allclose(utt.segments, original.segments, atol=1e-5)
        assert np.array_equal(dataset[index].wave.numpy(), load_audio(original.audio).numpy())

    # the manifests read last (pairs) are in <tmp_path>/back: export them
    out = export_corpus(DataConfig(name="long", dir=str(tmp_path / "back")), "lhotse")
    again = read_lhotse(tmp_path / "again", out, train=["long_cuts_train.jsonl.gz"])["train"]
    assert [u.to_json() for u in again] == [u.to_json() for u in pairs]


@pytest.fixture
def one_cut(tmp_path: Path, timit_sample: Path) -> dict:
    """The parts of a valid one-cut CutSet over a TIMIT-sample utterance, to spoil."""
    utt = fvmh0(timit_sample)[0]
    rec = lhotse.Recording.from_file(utt.audio, recording_id="rec")
    phones = [lhotse.supervision.AlignmentItem(p, s, e - s)
              for p, (s, e) in zip(utt.phones, utt.segments, strict=True)]
    sup = lhotse.SupervisionSegment("sup", "rec", 0.0, rec.duration, channel=0, speaker="spk",
                                    alignment={"phone": phones})
    return {"rec": rec, "sup": sup, "phones": phones}


def write_cuts(tmp_path: Path, rec, sups: list, copies: int = 1) -> None:
    cut = lhotse.MonoCut("c1", 0.0, sups[0].duration, 0, recording=rec, supervisions=sups)
    lhotse.CutSet([cut] * copies).to_file(tmp_path / "cuts.jsonl.gz")


@pytest.mark.parametrize("spoil, message", [
    ("missing_audio", r"cut c1: audio file .*nowhere\.wav not found"),
    ("url_source", r"cut c1: recording rec has a 'url' audio source; phonelstm reads 'file' "),
    ("unknown_phone", r"cut c1: symbol 'xx' is not in the phone map .*data\.lhotse\.phone_map"),
    ("past_the_end", r"cut c1: the supervision runs from 0\.000 to 9\.000 s, past the end of "
                     r"recording rec \(0-\d\.\d+ s\)"),
    ("duplicate", r"cut c1: duplicate id 'c1' \(first in .*cuts\.jsonl\.gz\)"),
    ("missing_manifest", r"data\.lhotse\.train: .*absent\.jsonl\.gz not found"),
])
def test_bad_lhotse_input_is_one_clear_line(spoil: str, message: str, one_cut: dict,
                                            tmp_path: Path) -> None:
    rec, sup, phones = one_cut["rec"], one_cut["sup"], one_cut["phones"]
    source = rec.sources[0]
    if spoil == "missing_audio":
        rec = lhotse.utils.fastcopy(rec, sources=[lhotse.utils.fastcopy(
            source, source=str(tmp_path / "nowhere.wav"))])
    elif spoil == "url_source":
        rec = lhotse.utils.fastcopy(rec, sources=[lhotse.utils.fastcopy(
            source, type="url", source="https://example.org/a.wav")])
    elif spoil == "unknown_phone":
        sup = sup.with_alignment("phone", [phones[0].transform(lambda _: "xx"), *phones[1:]])
    elif spoil == "past_the_end":
        sup = lhotse.utils.fastcopy(sup, duration=9.0)
    write_cuts(tmp_path, rec, [sup], copies=2 if spoil == "duplicate" else 1)
    name = "absent.jsonl.gz" if spoil == "missing_manifest" else "cuts.jsonl.gz"
    with pytest.raises(DataError, match=message) as err:
        read_lhotse(tmp_path, tmp_path, train=[name])
    assert "\n" not in str(err.value)


def test_cli_prints_one_line_for_bad_lhotse_input(one_cut: dict, tmp_path: Path) -> None:
    write_cuts(tmp_path, one_cut["rec"], [one_cut["sup"]], copies=2)
    result = run_cli("prepare", "data=lhotse", f"data.root={tmp_path}",
                     f"data.dir={tmp_path / 'out'}", "data.lhotse.train=[cuts.jsonl.gz]", cwd=ROOT)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cut c1: duplicate id 'c1'" in lines[0], result.stderr


def test_without_lhotse_one_line_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "lhotse", None)  # import lhotse now fails
    with pytest.raises(DataError, match=r"^data=lhotse needs the lhotse package: pip install "
                                        r"'phonelstm\[lhotse\]'$"):
        read_lhotse(tmp_path, tmp_path, train=["cuts.jsonl.gz"])
    with pytest.raises(DataError, match=r"^export=lhotse needs the lhotse package"):
        check_export("lhotse")
