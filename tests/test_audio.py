import json

import numpy as np
import pytest
import soundfile as sf
import torch

from phonelstm.audio import AudioError, load_audio
from phonelstm.data.manifest import ManifestError, Utterance, read_manifest, write_manifest

from .conftest import FSDD_DIGITS


def test_sphere_and_riff_copies_load_to_identical_samples(timit_sample):
    sph = load_audio(timit_sample / "dr1-fvmh0" / "sa2.sph")
    wav = load_audio(timit_sample / "dr1-fvmh0" / "sa2.wav")
    assert sph.dtype == torch.float32 and len(sph) == sf.info(timit_sample / "dr1-fvmh0" /
                                                              "sa2.wav").frames
    assert sf.info(timit_sample / "dr1-fvmh0" / "sa2.sph").format == "NIST"
    assert torch.equal(sph, wav)


def test_8khz_fsdd_resampled_to_16khz_has_the_expected_length():
    path = sorted((FSDD_DIGITS / "recordings").glob("*.wav"))[0]
    n_8k = sf.info(path).frames
    wave = load_audio(path, 16000)
    assert len(wave) == 2 * n_8k
    assert wave.abs().max() <= 1.0


def test_stereo_is_mixed_down_to_mono(tmp_path):
    left = np.sin(np.linspace(0, 100, 1600, dtype=np.float32)) * 0.5
    sf.write(tmp_path / "stereo.flac", np.stack([left, np.zeros_like(left)], 1), 16000)
    wave = load_audio(tmp_path / "stereo.flac")
    torch.testing.assert_close(wave, torch.from_numpy(left / 2), atol=1e-4, rtol=0)


def test_a_span_of_one_channel_reads_those_samples_alone(tmp_path):
    rng = np.random.default_rng(0)
    stereo = rng.uniform(-0.5, 0.5, (16000, 2)).astype(np.float32)
    sf.write(tmp_path / "long.wav", stereo, 16000, subtype="FLOAT")
    wave = load_audio(tmp_path / "long.wav", span=(0.25, 0.5), channel=1)
    torch.testing.assert_close(wave, torch.from_numpy(stereo[4000:12000, 1]))
    both = load_audio(tmp_path / "long.wav", span=(0.25, 0.5), channel=[0, 1])
    torch.testing.assert_close(both, torch.from_numpy(stereo[4000:12000].mean(1)))
    with pytest.raises(AudioError, match=r"long\.wav: the span 0\.800\+0\.500 s runs past the end"):
        load_audio(tmp_path / "long.wav", span=(0.8, 0.5))
    with pytest.raises(AudioError, match=r"long\.wav: no channel 2 \(the file has 2\)"):
        load_audio(tmp_path / "long.wav", channel=2)


@pytest.mark.parametrize("fields,match", [
    ({"offset": 1.0}, "'offset' must be seconds >= 0, with a 'duration'"),
    ({"offset": -1.0, "duration": 1.0}, "'offset' must be seconds >= 0"),
    ({"channel": "left"}, "'channel' must be a channel index or a list of them"),
])
def test_manifest_span_fields_are_checked(tmp_path, fields, match):
    row = {"id": "u", "audio": "a.wav", "speaker": "s", "phones": ["h#"], **fields}
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ManifestError, match=rf"m\.jsonl:1: {match}"):
        read_manifest(tmp_path / "m.jsonl")


def test_manifest_span_fields_round_trip(tmp_path):
    utt = Utterance("u", str(tmp_path / "a.wav"), "s", ["h#"], duration=0.5, offset=1.25,
                    channel=[0, 1])
    write_manifest(tmp_path / "m.jsonl", [utt, Utterance("v", "b.wav", "s", ["h#"])])
    back = read_manifest(tmp_path / "m.jsonl")
    assert back[0] == utt and back[0].span == (1.25, 0.5)
    assert (back[1].offset, back[1].channel, back[1].span) == (None, None, None)
    assert "offset" not in (tmp_path / "m.jsonl").read_text().splitlines()[1]


def _sphere_header(coding: str) -> bytes:
    fields = ("channel_count -i 1\nsample_count -i 1000\nsample_rate -i 16000\n"
              f"sample_n_bytes -i 2\nsample_coding -s{len(coding)} {coding}\nend_head\n")
    return ("NIST_1A\n   1024\n" + fields).encode().ljust(1024, b" ")


def _write(tmp_path, name, data, rate=16000):
    path = tmp_path / name
    sf.write(path, data, rate, subtype="FLOAT" if data.dtype == np.float32 else "PCM_16")
    return path


@pytest.mark.parametrize("case,match", [
    ("shorten", "Shorten-compressed NIST SPHERE.*sph2pipe"),
    ("garbage", "cannot read audio"),
    ("missing", "audio file not found"),
    ("empty", "audio is empty"),
    ("nan", "NaN or infinite"),
    ("inf", "NaN or infinite"),
    ("zeros", "all zeros"),
    ("short", "too short.*one analysis window needs 400"),
])
def test_bad_audio_raises_a_clear_error_naming_the_file(tmp_path, case, match):
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 1000).astype(np.float32)
    if case == "shorten":
        path = tmp_path / "si1.wav"
        path.write_bytes(_sphere_header("pcm,embedded-shorten-v2.00") + b"\x00\x7f" * 500)
    elif case == "garbage":
        path = tmp_path / "x.wav"
        path.write_bytes(b"this is not audio" * 10)
    elif case == "missing":
        path = tmp_path / "nowhere.wav"
    elif case == "empty":
        path = _write(tmp_path, "empty.wav", np.zeros(0, dtype=np.float32))
    elif case in ("nan", "inf"):
        noise[10] = np.nan if case == "nan" else np.inf
        path = _write(tmp_path, f"{case}.wav", noise)
    elif case == "zeros":
        path = _write(tmp_path, "zeros.wav", np.zeros(1000, dtype=np.int16))
    else:
        path = _write(tmp_path, "short.wav", noise[:300])
    with pytest.raises(AudioError, match=match) as err:
        load_audio(path, 16000, min_samples=400)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_truncated_wav_decodes_what_is_there_with_a_warning(tmp_path, caplog):
    whole = tmp_path / "whole.wav"
    sf.write(whole, np.random.default_rng(0).uniform(-0.5, 0.5, 48000).astype(np.float32),
             16000, subtype="PCM_16")  # 3 s
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:44 + 2 * 4800])  # the header and 0.3 s
    with caplog.at_level("WARNING", logger="phonelstm.audio"):
        assert len(load_audio(whole)) == 48000
        assert not caplog.records
        wave = load_audio(cut)
    assert len(wave) == 4800
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "cut.wav: truncated WAV file" in message and "3.00 s" in message and "0.30 s" in message
