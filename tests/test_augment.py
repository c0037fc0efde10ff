"""Waveform augmentation: seeded, label-preserving, each kind doing what it says."""

from pathlib import Path

import pytest
import torch

from phonelstm.audio import load_audio
from phonelstm.batch import Batch
from phonelstm.config import AugmentConfig, FeatureConfig
from phonelstm.data.augment import AugmentError, WaveAugment, change_speed, telephone
from phonelstm.data.dataset import frame_labels
from phonelstm.data.manifest import Utterance
from phonelstm.data.timit import read_phn
from phonelstm.features import frame_params, num_frames
from phonelstm.losses import IGNORE
from phonelstm.phones import TIMIT61, Vocabulary

FEATURES = FeatureConfig()
VOCAB = Vocabulary.for_frames(TIMIT61)


@pytest.fixture
def speaker(timit_sample) -> Path:
    return timit_sample / "dr1-fvmh0"


def _utterance(speaker: Path, name: str) -> Utterance:
    audio = speaker / f"{name}.wav"
    phones, segments = read_phn(audio.with_suffix(".phn"), 16000, len(load_audio(audio)))
    return Utterance(name, str(audio), "fvmh0", phones, segments)


def _batch(speaker: Path, names=("sa1", "sa2")) -> Batch:
    utts = [_utterance(speaker, n) for n in names]
    waves = [load_audio(u.audio) for u in utts]
    lengths = torch.tensor([len(w) for w in waves])
    labels = [frame_labels(u, num_frames(len(w), FEATURES), VOCAB, FEATURES)
              for u, w in zip(utts, waves, strict=True)]
    pad = torch.nn.utils.rnn.pad_sequence
    return Batch(ids=list(names), wave=pad(waves, batch_first=True), wave_lengths=lengths,
                 targets=torch.zeros(2, 1, dtype=torch.long), target_lengths=torch.ones(2),
                 frame_labels=pad(labels, batch_first=True, padding_value=IGNORE))


ALL = AugmentConfig(gain_db=20, speeds=[0.9, 1.0, 1.1], noise_prob=0.5, reverb_prob=0.5,
                    telephone_prob=0.5, telephone_hz=[2000.0, 4000.0], vtlp=0.1,
                    trim_prob=0.5)


def test_augmentation_is_deterministic_given_the_seed(speaker):
    augment = WaveAugment(ALL, FEATURES)
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        speed = augment.draw_speed()
        outputs.append(augment(_batch(speaker), speed))
    assert torch.equal(outputs[0].wave, outputs[1].wave)
    assert torch.equal(outputs[0].frame_labels, outputs[1].frame_labels)
    assert torch.equal(outputs[0].warp, outputs[1].warp)
    assert ((outputs[0].warp >= 0.9) & (outputs[0].warp <= 1.1)).all()
    torch.manual_seed(4)
    assert not torch.equal(augment(_batch(speaker), augment.draw_speed()).wave,
                           outputs[0].wave)


@pytest.mark.parametrize("speed", [0.9, 1.1])
def test_speed_perturbation_scales_lengths_and_segment_times(speaker, speed):
    batch = _batch(speaker)
    out = WaveAugment(AugmentConfig(speeds=[speed]), FEATURES)(batch, speed)
    expected = torch.ceil(batch.wave_lengths / speed).long()
    assert torch.equal(out.wave_lengths, expected)
    assert out.wave[0, expected[0]:].abs().sum() == 0  # padding stays silent
    for i, name in enumerate(batch.ids):
        # the labels of the stretched audio = labels from segment times divided by the speed
        utt = _utterance(speaker, name)
        scaled = Utterance(name, utt.audio, utt.speaker, utt.phones,
                           [(s / speed, e / speed) for s, e in utt.segments])
        n = int(num_frames(int(out.wave_lengths[i]), FEATURES))
        reference = frame_labels(scaled, n, VOCAB, FEATURES)
        got = out.frame_labels[i, :n]
        # they differ only next to a phone boundary (rounding of the frame centres)
        boundary = torch.zeros(n, dtype=torch.bool)
        change = (reference[1:] != reference[:-1]).nonzero().flatten()
        for shift in (0, 1):
            boundary[(change + shift).clamp_max(n - 1)] = True
        assert not ((got != reference) & ~boundary).any()
        assert (out.frame_labels[i, n:] == IGNORE).all()


def test_gain_noise_reverb_and_telephone_change_what_they_should(speaker):
    batch = _batch(speaker)
    torch.manual_seed(0)
    louder = WaveAugment(AugmentConfig(gain_db=20), FEATURES)(batch)
    ratio = louder.wave.abs().amax(1) / batch.wave.abs().amax(1)  # (B,)
    assert ((ratio >= 0.099) & (ratio <= 10.01)).all() and not torch.allclose(ratio, ratio[:1])
    noisy = WaveAugment(AugmentConfig(noise_prob=1.0, snr_db=[10.0, 10.0]), FEATURES)(batch)
    noise = noisy.wave - batch.wave
    for i, n in enumerate(batch.wave_lengths.tolist()):
        snr = 10 * torch.log10(batch.wave[i, :n].pow(2).sum() / noise[i, :n].pow(2).sum())
        assert abs(float(snr) - 10.0) < 0.01
    wet = WaveAugment(AugmentConfig(reverb_prob=1.0), FEATURES)(batch)
    assert not torch.equal(wet.wave, batch.wave) and torch.equal(wet.wave_lengths,
                                                                  batch.wave_lengths)
    narrow = telephone(batch.wave, 16000, torch.tensor([4000.0, 2000.0]))
    assert narrow.shape == batch.wave.shape
    for row, edge in ((0, 4000), (1, 2000)):
        spectrum = torch.fft.rfft(narrow[row]).abs().pow(2)
        above = spectrum[int(len(spectrum) * (edge + 100) / 8000):].sum() / spectrum.sum()
        below = torch.fft.rfft(batch.wave[row]).abs().pow(2)[:int(len(spectrum) * 1500 / 8000)]
        kept = spectrum[:len(below)].sum() / below.sum()
        assert above < 1e-3 and 0.98 < kept < 1.02


def test_off_by_default_and_bad_settings_are_one_line(speaker):
    batch = _batch(speaker)
    out = WaveAugment(AugmentConfig(), FEATURES)(batch)
    assert torch.equal(out.wave, batch.wave) and torch.equal(out.frame_labels,
                                                             batch.frame_labels)
    assert out.warp is None
    for bad, key in ((AugmentConfig(gain_db=-1), "gain_db"), (AugmentConfig(speeds=[3.0]),
                     "speeds"), (AugmentConfig(noise_prob=2), "noise_prob"),
                     (AugmentConfig(snr_db=[30, 5]), "snr_db"),
                     (AugmentConfig(telephone_hz=[100, 4000]), "telephone_hz"),
                     (AugmentConfig(vtlp=0.6), "vtlp"), (AugmentConfig(trim_prob=1.5),
                     "trim_prob"), (AugmentConfig(trim_db=0), "trim_db")):
        with pytest.raises(AugmentError, match=f"data.augment.{key}"):
            WaveAugment(bad, FEATURES)


def test_trimming_cuts_leading_and_trailing_silence_and_the_labels_follow(speaker):
    batch = _batch(speaker)
    _, hop = frame_params(FEATURES)
    silence = VOCAB.encode(["h#"])[0]
    augment = WaveAugment(AugmentConfig(trim_prob=1.0), FEATURES)
    torch.manual_seed(0)
    cuts = []
    for _ in range(4):
        out = augment(batch)
        for i in range(len(batch.ids)):
            n, old = int(out.wave_lengths[i]), batch.frame_labels[i]
            # the kept audio is the original from a frame boundary on
            start = next(k for k in range(len(old))
                         if torch.equal(out.wave[i, :n], batch.wave[i, k * hop:k * hop + n]))
            assert out.wave[i, n:].abs().sum() == 0
            m = int(num_frames(n, FEATURES))
            assert torch.equal(out.frame_labels[i, :m], old[start:start + m])
            assert (out.frame_labels[i, m:] == IGNORE).all()
            # only silence is cut: every frame of speech is kept
            cut = torch.cat([old[:start], old[start + m:]])
            assert ((cut == silence) | (cut == IGNORE)).all()
            cuts.append((start, int(batch.wave_lengths[i]) - n))
    assert len(set(cuts)) == len(cuts) and min(c[0] for c in cuts) < 10


def test_change_speed_of_a_tone_changes_its_pitch():
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * torch.pi * 1000 * t).unsqueeze(0)
    fast, lengths = change_speed(tone, torch.tensor([16000]), 1.1)
    peak = torch.fft.rfft(fast[0, :int(lengths)]).abs().argmax() * 16000 / int(lengths)
    assert abs(float(peak) - 1100) < 5


def test_a_training_run_with_every_augmentation_is_reproducible(sample_corpus, tmp_path):
    from dataclasses import replace

    from phonelstm.checkpoint import load_checkpoint
    from phonelstm.training.loop import train
    from tests.test_ctc import tiny_config

    weights = []
    for run in ("a", "b"):
        cfg = tiny_config(sample_corpus, tmp_path / run, n=4, max_epochs=1)
        torch.manual_seed(0)
        train(replace(cfg, data=replace(cfg.data, augment=ALL, max_batch_size=2)))
        weights.append(load_checkpoint(tmp_path / run / "exp" / "last.pt")["model"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    # the fast path's static shapes hold speed-perturbed (longer) batches
    slow = tiny_config(sample_corpus, tmp_path / "fast", n=4, max_epochs=1, fast=True,
                       static_frames=16)
    train(replace(slow, data=replace(slow.data, augment=AugmentConfig(speeds=[0.9]))))
