from dataclasses import replace

import numpy as np
import pytest
import torch
import torchaudio.compliance.kaldi as kaldi_features

from phonelstm.audio import load_audio
from phonelstm.config import FeatureConfig, SpecAugmentConfig
from phonelstm.features import (
    BACKENDS,
    FeatureError,
    FeatureExtractor,
    Normalizer,
    SpecAugment,
    add_deltas,
    feature_dim,
    mel_filters,
    normalize_utterances,
    num_frames,
    static_dim,
    vtlp_warp,
)

FBANK123 = FeatureConfig(kind="fbank", n_mels=40, delta_order=2)
MFCC26 = FeatureConfig(kind="mfcc", n_mels=26, n_ceps=12, delta_order=1)


@pytest.mark.parametrize("cfg,dim", [(FBANK123, 123), (MFCC26, 26)])
def test_shapes_follow_the_frame_rule_on_speech(cfg, dim, timit_sample):
    wave = load_audio(timit_sample / "dr1-fvmh0" / "sa1.wav")
    feats, lengths = FeatureExtractor(cfg)(wave.unsqueeze(0), torch.tensor([len(wave)]))
    expected = 1 + (len(wave) - 400) // 160  # 25 ms window, 10 ms hop at 16 kHz
    assert feats.shape == (1, expected, dim) and feature_dim(cfg) == dim
    assert int(lengths[0]) == expected == num_frames(len(wave), cfg)
    assert torch.isfinite(feats).all()


def test_frame_rule_edges():
    assert num_frames(399, FBANK123) == 0
    assert num_frames(400, FBANK123) == 1
    assert num_frames(559, FBANK123) == 1
    assert num_frames(560, FBANK123) == 2


def test_deltas_match_a_hand_computation():
    # c = t^2 over 6 frames, window 2, edges replicated
    c = torch.tensor([0.0, 1, 4, 9, 16, 25]).view(1, 6, 1)
    out = add_deltas(c, torch.tensor([6]), order=1, window=2)
    padded = [0, 0, 0, 1, 4, 9, 16, 25, 25, 25]
    hand = [(1 * (padded[t + 3] - padded[t + 1]) + 2 * (padded[t + 4] - padded[t])) / 10
            for t in range(6)]
    torch.testing.assert_close(out[0, :, 1], torch.tensor(hand))


def test_batched_features_equal_single_utterance_features(timit_sample):
    wave = load_audio(timit_sample / "dr1-fvmh0" / "sa2.wav")
    ex = FeatureExtractor(FBANK123)
    short = wave[:16000]
    alone, _ = ex(short.unsqueeze(0), torch.tensor([16000]))
    batch = torch.stack([torch.nn.functional.pad(short, (0, len(wave) - 16000)), wave])
    together, lengths = ex(batch, torch.tensor([16000, len(wave)]))
    n = int(lengths[0])
    torch.testing.assert_close(together[0, :n], alone[0], rtol=1e-4, atol=1e-4)


def test_global_stats_equal_a_direct_computation():
    feats = torch.randn(3, 10, 4) * 3 + 1
    lengths = torch.tensor([10, 6, 3])
    norm = Normalizer(4)
    norm.accumulate(feats[:2], lengths[:2])
    norm.accumulate(feats[2:], lengths[2:])
    valid = torch.cat([feats[i, : lengths[i]] for i in range(3)])
    torch.testing.assert_close(norm.mean, valid.mean(0))
    torch.testing.assert_close(norm.std, valid.std(0, unbiased=False), rtol=1e-4, atol=1e-4)


def test_utterance_normalisation_ignores_padding():
    feats = torch.randn(2, 8, 3)
    out = normalize_utterances(feats, torch.tensor([8, 5]))
    torch.testing.assert_close(out[1, :5].mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    assert (out[1, 5:] == 0).all()


def test_audio_shorter_than_a_window_is_a_clear_error():
    with pytest.raises(FeatureError, match="shorter than one"):
        FeatureExtractor(FBANK123)(torch.randn(1, 100), torch.tensor([100]))


def _two_utterance_batch(timit_sample):
    waves = [load_audio(timit_sample / "dr1-fvmh0" / f"{u}.wav") for u in ("sa1", "sa2")]
    lengths = torch.tensor([len(w) for w in waves])
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), lengths


@pytest.mark.parametrize("cfg", [FBANK123, MFCC26])
def test_librosa_and_torchaudio_backends_agree(cfg, timit_sample):
    # Tolerance: 1e-3 absolute on log-domain features (measured max difference ~1e-4).
    wave, lengths = _two_utterance_batch(timit_sample)
    ours, frames = FeatureExtractor(cfg)(wave, lengths)
    ref, ref_frames = FeatureExtractor(replace(cfg, backend="librosa"))(wave, lengths)
    assert ref.shape == ours.shape and torch.equal(frames, ref_frames)
    for i, n in enumerate(frames.tolist()):
        torch.testing.assert_close(ours[i, :n], ref[i, :n], atol=1e-3, rtol=0)


# Kaldi's options that match ours (see the test below)
KALDI = dict(sample_frequency=16000, frame_length=25.0, frame_shift=10.0, dither=0.0,
             preemphasis_coefficient=0.97, remove_dc_offset=True, window_type="hamming",
             round_to_power_of_two=True, snip_edges=True, low_freq=20.0, high_freq=0.0,
             raw_energy=True, energy_floor=0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_statics_equal_kaldi_fbank_and_mfcc_on_a_timit_utterance(backend, timit_sample):
    """Kaldi's options that match ours: no dither, raw energy before pre-emphasis, symmetric
    Hamming window, mel filters from 20 Hz to Nyquist; MFCC without liftering, c0 dropped."""
    wave = load_audio(timit_sample / "dr1-fvmh0" / "sa1.wav")
    lengths = torch.tensor([len(wave)])
    for cfg, ref in (
        (FBANK123, kaldi_features.fbank(wave[None], num_mel_bins=40, use_energy=True,
                                        use_log_fbank=True, use_power=True, **KALDI)),
        (MFCC26, kaldi_features.mfcc(wave[None], num_mel_bins=26, num_ceps=13, use_energy=True,
                                     cepstral_lifter=0.0, **KALDI)),
    ):
        ours, frames = FeatureExtractor(replace(cfg, backend=backend))(wave[None], lengths)
        statics = ours[0, :, :static_dim(cfg)]  # (T, S): mels or c1..c12, then log energy
        assert int(frames) == len(ref) == len(statics)
        ref = torch.cat([ref[:, 1:], ref[:, :1]], dim=1)  # Kaldi's energy (or c0) comes first
        torch.testing.assert_close(statics, ref, atol=1e-3, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_16_bit_units_a_gain_is_removed_by_utterance_normalisation(backend, timit_sample):
    """wave_scale=32768 reads audio as Kaldi does (statics equal Kaldi's on the int16
    values); then -40 dB leaves the normalised features as they were, while at scale 1 the
    log floor clips the quiet frames and moves them by several units."""
    wave = load_audio(timit_sample / "dr1-fvmh0" / "sa2.wav")[None]  # (1, N)
    lengths = torch.tensor([wave.shape[1]])
    cfg = replace(FBANK123, backend=backend, wave_scale=32768.0)
    ref = kaldi_features.fbank(wave * 32768, num_mel_bins=40, use_energy=True,
                               use_log_fbank=True, use_power=True, **KALDI)
    statics = FeatureExtractor(cfg)(wave, lengths)[0][0, :, :41]
    torch.testing.assert_close(statics, torch.cat([ref[:, 1:], ref[:, :1]], dim=1), atol=2e-3,
                               rtol=0)
    for scale, most in ((32768.0, 1e-3), (1.0, None)):
        extract = FeatureExtractor(replace(cfg, wave_scale=scale))
        loud, quiet = (normalize_utterances(*extract(w, lengths)) for w in (wave, wave * 0.01))
        gap = (quiet - loud).abs().max().item()
        assert gap < most if most else gap > 1.0


def test_unknown_backend_is_a_config_error():
    with pytest.raises(FeatureError, match="features.backend"):
        FeatureExtractor(replace(FBANK123, backend="kaldi"))


def test_specaugment_masks_bands_inside_valid_frames_and_only_in_training():
    cfg = replace(FBANK123, specaugment=SpecAugmentConfig(time_masks=2, time_width=5,
                                                          freq_masks=2, freq_width=4))
    augment = SpecAugment(cfg)
    feats = torch.randn(3, 50, 123) + 10  # never 0 by chance
    lengths = torch.tensor([50, 30, 8])
    out = augment(feats, lengths).view(3, 50, 3, 41)
    masked = out == 0
    assert masked.any()
    # a channel mask hides the same channels in statics and both delta levels, never energy
    channel_masked = masked.all(dim=1)  # (B, 3, 41)
    assert torch.equal(channel_masked[:, 0], channel_masked[:, 1])
    assert not channel_masked[:, :, 40].any()
    assert channel_masked[:, 0].sum(-1).le(8).all()
    frame_masked = masked.all(dim=(2, 3))  # (B, T)
    assert frame_masked.sum(-1).le(10).all() and not frame_masked[2, 8:].any()
    augment.eval()
    assert torch.equal(augment(feats, lengths), feats)
    assert torch.equal(SpecAugment(FBANK123)(feats, lengths), feats)  # off by default


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_batched_extraction_stays_on_the_gpu_and_matches_the_cpu(timit_sample):
    wave, lengths = _two_utterance_batch(timit_sample)
    cpu, _ = FeatureExtractor(FBANK123)(wave, lengths)
    gpu, frames = FeatureExtractor(FBANK123).cuda()(wave.cuda(), lengths.cuda())
    assert gpu.device.type == "cuda" and frames.device.type == "cuda"
    normalized = normalize_utterances(gpu, frames)
    augmented = SpecAugment(replace(FBANK123, specaugment=SpecAugmentConfig(
        time_masks=1, freq_masks=1)))(normalized, frames)
    assert augmented.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3, rtol=0)


def test_vtlp_warps_frequencies_below_the_boundary_and_keeps_nyquist():
    grid = np.linspace(0.0, 8000.0, 2001)
    for alpha in (0.9, 1.1):
        warped = vtlp_warp(grid, alpha, 8000.0)
        assert warped[0] == 0.0 and warped[-1] == pytest.approx(8000.0)
        assert warped[250] == pytest.approx(1000.0 * alpha)  # 1 kHz
        assert (np.diff(warped) > 0).all()  # continuous and increasing: no folded bins
    assert np.array_equal(mel_filters(512, 40, 16000, warp=1.0), mel_filters(512, 40, 16000))


def test_a_warp_factor_moves_a_tone_along_the_mel_channels():
    extractor = FeatureExtractor(FeatureConfig(kind="fbank", delta_order=0))
    tone = torch.sin(2 * torch.pi * 1000 * torch.arange(16000) / 16000).repeat(3, 1)  # (3, N)
    lengths = torch.full((3,), 16000)
    plain, _ = extractor(tone, lengths)
    same, _ = extractor(tone, lengths, torch.ones(3))
    assert torch.allclose(plain, same)
    warped, _ = extractor(tone, lengths, torch.tensor([0.9, 1.0, 1.1]))
    # a bin at f is read as alpha f: the tone's channel moves up with alpha
    peaks = warped[:, 50, :-1].argmax(-1).tolist()  # (3,) mel channel of the peak
    assert peaks[0] < peaks[1] < peaks[2]
