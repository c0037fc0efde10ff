import pytest
import torch

from phonelstm.config import ModelConfig
from phonelstm.model import ModelConfigError, build_model, count_parameters, stack_frames


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("stack", [1, 3])
@pytest.mark.parametrize("recurrence", ["packed", "padded"])
def test_output_is_invariant_to_batch_padding(cell, bidirectional, stack, recurrence):
    cfg = ModelConfig(cell=cell, bidirectional=bidirectional, hidden=16, layers=2, dropout=0.0,
                      stack_frames=stack)
    model = build_model(cfg, input_dim=5, num_classes=7, recurrence=recurrence).eval()
    short = torch.randn(1, 11, 5)
    alone, alone_len = model(short, torch.tensor([11]))
    padded = torch.cat([short, torch.randn(1, 9, 5) * 100], dim=1)  # garbage padding
    batch = torch.cat([padded, torch.randn(1, 20, 5)])
    together, lengths = model(batch, torch.tensor([11, 20]))
    n = int(alone_len[0])
    assert int(lengths[0]) == n == -(-11 // stack)
    torch.testing.assert_close(together[0, :n], alone[0, :n], rtol=1e-5, atol=1e-5)


def test_lstm_weight_count_matches_formula():
    cfg = ModelConfig(cell="lstm", bidirectional=True, hidden=93, layers=1, dropout=0.0)
    model = build_model(cfg, input_dim=26, num_classes=61)
    # per direction: 4 gates x (input + hidden weights + 2 biases); output layer
    lstm = 2 * 4 * (93 * 26 + 93 * 93 + 2 * 93)
    assert count_parameters(model) == lstm + (2 * 93 * 61 + 61)


def test_lstmp_and_gru_weight_counts():
    proj = build_model(ModelConfig(cell="lstm", hidden=64, proj_size=32, layers=1,
                                   bidirectional=False), input_dim=10, num_classes=5)
    assert count_parameters(proj) == 4 * (64 * 10 + 64 * 32 + 2 * 64) + 64 * 32 + (32 * 5 + 5)
    gru = build_model(ModelConfig(cell="gru", hidden=8, layers=1, bidirectional=False),
                      input_dim=4, num_classes=3)
    assert count_parameters(gru) == 3 * (8 * 4 + 8 * 8 + 2 * 8) + (8 * 3 + 3)


def test_stack_frames_shapes():
    x = torch.arange(2 * 7 * 2, dtype=torch.float).view(2, 7, 2)
    y, lengths = stack_frames(x, torch.tensor([7, 4]), 3)
    assert y.shape == (2, 3, 6) and lengths.tolist() == [3, 2]
    assert y[0, 0].tolist() == x[0, :3].flatten().tolist()


def test_bad_model_config_is_a_clear_error():
    with pytest.raises(ModelConfigError, match="model.cell"):
        build_model(ModelConfig(cell="transformer"), 5, 5)
    with pytest.raises(ModelConfigError, match="proj_size"):
        build_model(ModelConfig(cell="gru", proj_size=4), 5, 5)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("settings", [
    dict(cell="lstm"), dict(cell="gru"), dict(cell="rnn_tanh"), dict(cell="lstm", proj_size=6),
    dict(cell="lstm", bidirectional=False, target_delay=2), dict(cell="lstm", stack_frames=3),
], ids=["lstm", "gru", "rnn_tanh", "lstmp", "delay", "stack"])
def test_padded_recurrence_equals_packed_in_outputs_and_gradients(settings):
    cfg = ModelConfig(**{"hidden": 12, "layers": 3, "dropout": 0.0, "stack_frames": 1,
                         "bidirectional": True, **settings})
    packed = build_model(cfg, input_dim=5, num_classes=7)
    padded = build_model(cfg, input_dim=5, num_classes=7, recurrence="padded")
    padded.load_state_dict(packed.state_dict())  # the same weights, the same keys
    x, lengths = torch.randn(3, 13, 5), torch.tensor([13, 7, 1])
    results = []
    for model in (packed, padded):
        logits, out_lengths = model(x, lengths)
        mask = torch.arange(logits.shape[1]) < out_lengths.unsqueeze(1)  # (B, T')
        (logits[mask] ** 2).sum().backward()
        results.append((logits[mask], [p.grad.clone() for p in model.parameters()]))
    (packed, packed_grads), (padded, padded_grads) = results
    torch.testing.assert_close(padded, packed, rtol=1e-5, atol=1e-6)
    for a, b in zip(padded_grads, packed_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
