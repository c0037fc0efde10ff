import torch

from phonelstm.metrics import ErrorCounts, count_errors, frame_accuracy


def test_hand_checked_per_cases():
    # one substitution
    assert count_errors(list("abcd"), list("abxd")) == ErrorCounts(4, 1, 0, 0)
    # one deletion, one insertion
    assert count_errors(list("abcd"), list("acdy")) == ErrorCounts(4, 0, 1, 1)
    # empty hypothesis: all deleted
    c = count_errors(["sil", "aa", "b"], [])
    assert (c.sub, c.dels, c.ins, c.rate) == (0, 3, 0, 100.0)
    # insertions can push the rate over 100%
    c = count_errors(["aa"], ["b", "aa", "d"])
    assert (c.ins, c.rate) == (2, 200.0)
    assert count_errors([], []).rate == 0.0


def test_counts_add_up():
    total = count_errors(list("abc"), list("abd")) + count_errors(list("xy"), list("x"))
    assert total == ErrorCounts(5, 1, 1, 0)
    assert abs(total.rate - 40.0) < 1e-9
    assert "40.00%" in total.summary()


def test_frame_accuracy_ignores_padding():
    predicted = torch.tensor([[1, 2, 3, 0], [1, 1, 0, 0]])
    target = torch.tensor([[1, 2, 0, -100], [1, 2, -100, -100]])
    assert frame_accuracy(predicted, target) == (3, 5)
