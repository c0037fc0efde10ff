"""phonelstm-decode: formats, times, forced alignment, long recordings, errors."""

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from praatio import textgrid

from phonelstm.audio import load_audio
from phonelstm.checkpoint import CheckpointError
from phonelstm.config import DecodeConfig
from phonelstm.data.manifest import read_manifest
from phonelstm.decode import decode
from phonelstm.recognizer import Recognizer
from phonelstm.recordings import DecodeError
from phonelstm.writers import OutputError
from tests.conftest import FSDD_DIGITS, run_cli


@pytest.fixture
def speaker(timit_sample):
    """One speaker's folder of the TIMIT-sample tree: 10 utterances with .phn labels."""
    return timit_sample / "dr1-fvmh0"


@pytest.mark.parametrize("task", ["ctc", "framewise"])
def test_decode_writes_every_format(trained_checkpoints, tmp_path, speaker, task):
    out = tmp_path / "out"
    decode(DecodeConfig(checkpoint=str(trained_checkpoints[task]), input=str(speaker),
                        out=str(out), format=["txt", "json", "ctm", "textgrid"]))
    rows = [json.loads(line) for line in (out / "phones.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == sorted(p.stem for p in speaker.glob("*.wav"))
    assert sum(len(r["phones"]) for r in rows) > 20
    ctm = [line.split() for line in (out / "phones.ctm").read_text().splitlines()]
    assert len(ctm) == sum(len(r["phones"]) for r in rows)
    txt = dict(line.split(maxsplit=1) for line in (out / "phones.txt").read_text().splitlines())
    for row in rows:
        duration = sf.info(row["audio"]).frames / 16000
        assert row["duration"] == pytest.approx(duration, abs=1e-3)
        times = [(p["start"], p["end"]) for p in row["phones"]]
        assert all(0 <= s <= e <= duration for s, e in times)
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(times, times[1:], strict=False))
        assert all(0 < p["posterior"] <= 1 for p in row["phones"])
        assert txt[row["id"]].split() == [p["phone"] for p in row["phones"]]
        grid = textgrid.openTextgrid(str(out / "textgrid" / f"{row['id']}.TextGrid"),
                                     includeEmptyIntervals=False)
        entries = grid.getTier("phones").entries
        spoken = [p for p in row["phones"] if p["end"] > p["start"]]  # TextGrid drops empty ones
        assert [e.label for e in entries] == [p["phone"] for p in spoken]
        for e, p in zip(entries, spoken, strict=False):
            assert (e.start, e.end) == pytest.approx((p["start"], p["end"]), abs=1e-6)
    mine = [c for c in ctm if c[0] == rows[0]["id"]]
    for c, p in zip(mine, rows[0]["phones"], strict=False):
        assert c[1] == "1" and c[4] == p["phone"]
        assert float(c[2]) == pytest.approx(p["start"], abs=1e-3)
        assert float(c[3]) == pytest.approx(p["end"] - p["start"], abs=2e-3)


def test_forced_alignment_lands_near_hand_labels(trained_checkpoints, sample_corpus):
    """Held-out voices: phone starts within 50 ms of their labels."""
    recognizer = Recognizer.from_checkpoint(trained_checkpoints["framewise"])
    within = total = 0
    for split in ("dev", "test"):
        for utt in read_manifest(sample_corpus / f"{split}.jsonl"):
            aligned = recognizer.align(utt.audio, utt.phones)
            assert [p.phone for p in aligned] == utt.phones
            for p, (start, _) in zip(aligned[1:], utt.segments[1:], strict=False):
                total += 1
                within += abs(p.start - start) <= 0.05
    print(f"forced alignment: {within}/{total} = {100 * within / total:.1f}% within 50 ms")
    assert within / total > 0.6
    ctc = Recognizer.from_checkpoint(trained_checkpoints["ctc"])
    utt = read_manifest(sample_corpus / "test.jsonl")[0]
    aligned = ctc.align(utt.audio, utt.phones)
    assert [p.phone for p in aligned] == utt.phones
    assert all(a.start <= a.end <= b.start for a, b in zip(aligned, aligned[1:], strict=False))


def test_decode_aligns_phn_transcripts(trained_checkpoints, tmp_path, speaker):
    out = tmp_path / "out"
    decode(DecodeConfig(checkpoint=str(trained_checkpoints["framewise"]),
                        input=str(speaker / "sa1.wav"), out=str(out), format="json", align=True))
    row = json.loads((out / "phones.jsonl").read_text())
    phn = [line.split()[2] for line in (speaker / "sa1.phn").read_text().splitlines()]
    assert [p["phone"] for p in row["phones"]] == phn


@pytest.mark.slow
def test_twenty_minute_recording_runs_in_windows(trained_checkpoints, tmp_path, speaker):
    """A 20-minute recording runs through the model in bounded windows with seamless times."""
    waves = [sf.read(p, dtype="float32")[0] for p in sorted(speaker.glob("*.wav"))]
    one = np.concatenate(waves)
    rng = np.random.default_rng(0)
    long = np.tile(one, math.ceil(1200 * 16000 / len(one)))[: 1200 * 16000]
    long = long + rng.normal(0, 1e-3, len(long)).astype(np.float32)
    recognizer = Recognizer.from_checkpoint(trained_checkpoints["framewise"], chunk_seconds=30.0)
    seen = []
    recognizer.model.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    log_probs = recognizer.log_posteriors(torch.from_numpy(long))
    assert len(log_probs) == 1 + (len(long) - 400) // 160
    assert len(seen) == math.ceil(1200 / 30) and max(seen) <= (30 + 2 * 2) * 100
    phones = recognizer.phones_from(log_probs, 1200.0)
    assert phones[-1].end <= 1200.0 and phones[-1].end > 1190.0
    assert all(a.end <= b.start for a, b in zip(phones, phones[1:], strict=False))
    # windows agree with one pass over the whole recording
    short = torch.from_numpy(long[: 70 * 16000])
    whole = recognizer.log_posteriors_batch([short])[0]
    windowed = recognizer.log_posteriors(short)
    agree = (whole.argmax(-1) == windowed.argmax(-1)).float().mean()
    assert agree > 0.99, agree


def test_unreadable_audio_is_listed_and_fails(trained_checkpoints, tmp_path, speaker, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.wav").symlink_to(speaker / "sa1.wav")
    (folder / "broken.wav").write_bytes(b"not audio at all")
    cfg = DecodeConfig(checkpoint=str(trained_checkpoints["ctc"]), input=str(folder),
                       out=str(tmp_path / "out"))
    with pytest.raises(DecodeError, match="1 of 2 recording"):
        decode(cfg)
    assert "broken.wav" in capsys.readouterr().err
    assert (tmp_path / "out" / "phones.txt").read_text().startswith("good ")
    cfg.continue_on_error, cfg.overwrite = True, True
    decode(cfg)


def test_existing_or_unwritable_output_is_refused(trained_checkpoints, tmp_path, speaker):
    cfg = DecodeConfig(checkpoint=str(trained_checkpoints["ctc"]), input=str(speaker / "sa1.wav"),
                       out=str(tmp_path / "out"), format=["txt", "ctm"])
    decode(cfg)
    before = (tmp_path / "out" / "phones.txt").read_text()
    with pytest.raises(OutputError, match="phones.txt exists.*overwrite=true"):
        decode(cfg)
    cfg.overwrite = True
    decode(cfg)
    assert (tmp_path / "out" / "phones.txt").read_text() == before
    (tmp_path / "file").write_text("x")
    cfg.out = str(tmp_path / "file" / "out")
    with pytest.raises(OutputError, match="cannot create output folder"):
        decode(cfg)


def test_bad_checkpoints_name_the_problem(tmp_path, trained_checkpoints, speaker):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        Recognizer.from_checkpoint(tmp_path / "none.pt")
    old = torch.load(trained_checkpoints["ctc"], weights_only=False)
    torch.save({**old, "format": "phonelstm-checkpoint-0", "version": "0.0.1"}, tmp_path / "o.pt")
    with pytest.raises(CheckpointError, match="written by phonelstm 0.0.1"):
        Recognizer.from_checkpoint(tmp_path / "o.pt")
    result = run_cli("decode", f"checkpoint={tmp_path / 'none.pt'}", f"input={speaker}",
                     cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("phonelstm-decode: error: ")


def test_other_sample_rates_are_resampled(trained_checkpoints):
    audio = FSDD_DIGITS / "recordings" / "0_george_0.wav"  # 8 kHz
    phones = Recognizer.from_checkpoint(trained_checkpoints["framewise"]).transcribe(audio)
    duration = sf.info(audio).duration
    assert phones and phones[-1].end <= duration and phones[-1].end > duration - 0.05


def test_long_recording_per_utterance_normalisation_uses_the_whole_recording(
        trained_checkpoints, speaker):
    """With features.normalize=utterance, a recording decoded in windows is normalised with
    its own statistics, as it is when it runs in one piece."""
    recognizer = Recognizer.from_checkpoint(trained_checkpoints["ctc"], chunk_seconds=1.0,
                                            context_seconds=1.0)
    recognizer.config.features.normalize = "utterance"
    waves = [load_audio(p) for p in sorted(speaker.glob("*.wav"))[:3]]
    wave = torch.cat(waves)  # ~9 s: 9 windows of 1 s
    whole = recognizer.log_posteriors_batch([wave])[0]
    windowed = recognizer.log_posteriors(wave)
    recognizer._recording_stats = lambda wave, step: None  # each window's own statistics
    per_window = recognizer.log_posteriors(wave)
    assert windowed.shape == whole.shape == per_window.shape
    # what remains is the windows' limited context (the demo model: 0.04 against 0.48)
    assert (windowed - whole).abs().mean() < 0.25 * (per_window - whole).abs().mean()


def test_checkpoint_whose_weights_do_not_fit_its_config_names_the_file(trained_checkpoints,
                                                                       tmp_path):
    ckpt = torch.load(trained_checkpoints["ctc"], weights_only=False)
    ckpt["config"]["model"]["hidden"] += 1
    torch.save(ckpt, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match=r"edited.pt: its weights do not fit its own "
                                              r"config \(size mismatch for rnn.weight_ih_l0"):
        Recognizer.from_checkpoint(tmp_path / "edited.pt")
