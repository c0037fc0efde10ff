"""Framewise models (Graves & Schmidhuber 2005): padding, target delay, peephole cell, sizes."""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from phonelstm.cli import CONF_DIR
from phonelstm.config import (
    DataConfig,
    FeatureConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    TrainerConfig,
    to_dataclass,
)
from phonelstm.metrics import ConfusionMatrix
from phonelstm.model import build_model, count_parameters, describe
from phonelstm.phones import TIMIT61
from phonelstm.recurrence import PeepholeLSTM
from phonelstm.training.loop import train
from tests.test_train import tiny_corpus

PRESETS = sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("fw_*.yaml"))


def preset(name: str, **small: object) -> ModelConfig:
    cfg = OmegaConf.merge(OmegaConf.load(Path(CONF_DIR) / "model" / f"{name}.yaml"), small)
    return to_dataclass(ModelConfig, cfg)


def test_every_model_kind_has_a_preset():
    assert PRESETS == ["fw_blstm", "fw_brnn", "fw_lstm_delay", "fw_mlp", "fw_mlp_context",
                       "fw_rnn"]


@pytest.mark.parametrize("name", PRESETS)
def test_output_is_invariant_to_batch_padding(name):
    model = build_model(preset(name, hidden=12), input_dim=5, num_classes=7).eval()
    short = torch.randn(1, 11, 5)
    alone, _ = model(short, torch.tensor([11]))
    padded = torch.cat([short, torch.randn(1, 9, 5) * 100], dim=1)  # garbage padding
    together, lengths = model(torch.cat([padded, torch.randn(1, 20, 5)]), torch.tensor([11, 20]))
    assert lengths.tolist() == [11, 20] and together.shape == (2, 20, 7)
    torch.testing.assert_close(together[0, :11], alone[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell,peephole", [("rnn_tanh", False), ("lstm", False), ("lstm", True)])
def test_target_delay_emits_frame_t_at_step_t_plus_d(cell, peephole):
    d, T = 3, 10
    delayed = build_model(ModelConfig(cell=cell, peephole=peephole, bidirectional=False,
                                      hidden=8, layers=1, target_delay=d), 4, 5).eval()
    plain = build_model(ModelConfig(cell=cell, peephole=peephole, bidirectional=False,
                                    hidden=8, layers=1), 4, 5).eval()
    plain.load_state_dict(delayed.state_dict())
    x = torch.randn(1, T, 4)
    out, lengths = delayed(x, torch.tensor([T]))
    assert out.shape == (1, T, 5) and lengths.tolist() == [T]
    # the undelayed network run over the input and d appended zero frames, read d steps late
    steps, _ = plain(torch.cat([x, torch.zeros(1, d, 4)], dim=1), torch.tensor([T + d]))
    torch.testing.assert_close(out, steps[:, d:], rtol=1e-5, atol=1e-5)
    # the output for frame t sees inputs up to t + d and none later
    t = 2
    for offset, changes in ((d, True), (d + 1, False)):
        nudged = x.clone()
        nudged[0, t + offset] += 1.0
        moved = not torch.allclose(delayed(nudged, torch.tensor([T]))[0][0, t], out[0, t])
        assert moved == changes, offset


def reference_peephole(layer: PeepholeLSTM, x: torch.Tensor) -> torch.Tensor:
    """The peephole LSTM equations, one utterance and one step at a time. ``x: (T, F)``."""
    outputs = []
    for direction, proj in enumerate(layer.input_proj):
        R, p = layer.recurrent[direction], layer.peephole[direction]
        H = R.shape[0]
        h = c = torch.zeros(H, dtype=x.dtype)
        steps = range(len(x)) if direction == 0 else reversed(range(len(x)))
        hs = {}
        for t in steps:
            g = proj(x[t]) + h @ R
            i = torch.sigmoid(g[:H] + p[0] * c)
            f = torch.sigmoid(g[H:2 * H] + p[1] * c)
            c = f * c + i * torch.tanh(g[2 * H:3 * H])
            o = torch.sigmoid(g[3 * H:] + p[2] * c)
            h = o * torch.tanh(c)
            hs[t] = h
        outputs.append(torch.stack([hs[t] for t in range(len(x))]))
    return torch.cat(outputs, dim=-1)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_peephole_cell_matches_step_by_step_reference(bidirectional):
    layer = PeepholeLSTM(input_dim=3, hidden=6, bidirectional=bidirectional).double()
    with torch.no_grad():
        layer.peephole.uniform_(-1, 1)  # zero at init: make the peepholes count
    x = torch.randn(2, 9, 3, dtype=torch.double)
    lengths = torch.tensor([9, 5])
    fast = layer(x, lengths)  # (B, T, D*H)
    expected = [reference_peephole(layer, x[b, :n]) for b, n in enumerate(lengths.tolist())]
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(fast[b, :n], expected[b])
    # the hand-written backward pass gives autograd's gradients of the reference
    weights = torch.randn_like(fast)
    fast_loss = sum((fast[b, :n] * weights[b, :n]).sum() for b, n in enumerate(lengths.tolist()))
    fast_grads = torch.autograd.grad(fast_loss, list(layer.parameters()))
    ref_loss = sum((e * weights[b, :len(e)]).sum() for b, e in enumerate(expected))
    ref_grads = torch.autograd.grad(ref_loss, list(layer.parameters()))
    for fast_grad, ref_grad in zip(fast_grads, ref_grads, strict=True):
        torch.testing.assert_close(fast_grad, ref_grad)


def paper_formula(cfg: ModelConfig, n_in: int = 26, n_out: int = 61) -> int:
    """Weights of the 2005 networks: hidden layer(s), biases, peepholes and output layer."""
    H = cfg.hidden
    if cfg.arch == "mlp":
        return (2 * cfg.context + 1) * n_in * H + H + H * n_out + n_out
    directions = 2 if cfg.bidirectional else 1
    if cfg.cell == "lstm":  # 4 gates from inputs, recurrence and one bias; 3 peepholes
        per_direction = 4 * H * (n_in + H + 1) + 3 * H
    else:  # torch's RNN keeps two bias vectors (input and recurrent)
        per_direction = H * (n_in + H + 2)
    return directions * per_direction + directions * H * n_out + n_out


def test_paper_configurations_weight_counts(capsys):
    rows = []
    for name in PRESETS:
        model = build_model(preset(name), input_dim=26, num_classes=61)
        assert count_parameters(model) == paper_formula(model.cfg), name
        rows.append(f"{name:15s} {describe(model)}")
    with capsys.disabled():
        print("\n" + "\n".join(rows))
    # the paper's budget: ~100k weights for every recurrent net; 22,061 for the 1-frame MLP
    counts = {n: count_parameters(build_model(preset(n), 26, 61)) for n in PRESETS}
    assert counts["fw_mlp"] == 22_061 and counts["fw_mlp_context"] == 152_061
    for name in ("fw_blstm", "fw_brnn", "fw_lstm_delay", "fw_rnn"):
        assert 99_000 < counts[name] < 103_000, (name, counts[name])


def test_confusion_matrix_counts_and_folds():
    matrix = ConfusionMatrix(TIMIT61)
    aa, ao, q, s = (TIMIT61.index(p) for p in ("aa", "ao", "q", "s"))
    ref = torch.tensor([aa, aa, ao, s, q, -100])
    hyp = torch.tensor([aa, ao, ao, aa, s, s])
    matrix.update(ref, hyp)
    assert matrix.frames == 5 and matrix.accuracy == pytest.approx(40.0)
    assert matrix.per_class_accuracy()["aa"] == pytest.approx(50.0)
    assert matrix.per_class_accuracy()["b"] is None
    folded = matrix.fold(39)  # aa and ao merge; the q frame is dropped
    assert folded.frames == 4 and folded.accuracy == pytest.approx(75.0)
    assert folded.to_csv().splitlines()[0].startswith("ref\\hyp,aa,ae")


@pytest.fixture
def one_thread():
    """Tiny recurrent steps run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    yield 1
    torch.set_num_threads(threads)


def test_framewise_blstm_overfits_a_few_utterances(sample_corpus, tmp_path, one_thread):
    data = tiny_corpus(sample_corpus, tmp_path / "data", n=3)
    cfg = TrainConfig(
        data=DataConfig(name="tiny", corpus="manifest", dir=str(data), max_batch_size=1),
        features=FeatureConfig(kind="mfcc", n_mels=26, n_ceps=12, delta_order=1),
        model=preset("fw_blstm", hidden=64, peephole=False),
        optim=OptimConfig(lr=1e-2, plateau_patience=100),
        trainer=TrainerConfig(task="framewise", max_epochs=10, patience=0,
                              num_threads=one_thread),
        out_dir=str(tmp_path / "exp"),
    )
    results = train(cfg)
    assert 100 - results["test"] > 90.0, results  # frame accuracy on the memorised utterances
    assert (tmp_path / "exp" / "test_confusion39.png").stat().st_size > 0
