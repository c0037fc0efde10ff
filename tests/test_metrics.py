import torch

from phonelstm.losses import IGNORE
from phonelstm.metrics import ErrorCounts, Scores, count_errors, fold_index, frame_accuracy


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


def test_scores_per_speaker_phone_and_pairs():
    scores = Scores()
    scores.add(list("abcd"), list("abxd"), "s1")  # c -> x
    scores.add(list("ab"), list("abe"), "s2")  # e inserted
    scores.add(list("a"), [], "s2")  # a deleted
    assert scores.errors == ErrorCounts(7, 1, 1, 1) and scores.utterances == 3
    assert scores.speakers == {"s1": ErrorCounts(4, 1, 0, 0), "s2": ErrorCounts(3, 0, 1, 1)}
    a, e = scores.phones["a"], scores.phones["e"]
    assert (a.ref_len, a.correct, a.dels, a.rate, e.ins) == (3, 2, 1, 100 / 3, 1)
    assert scores.confusions(5) == [("*", "e", 1), ("a", "*", 1), ("c", "x", 1)]
    matrix = scores.confusion_matrix()
    assert matrix.labels == ("a", "b", "c", "d", "e", "x", "*")
    assert int(matrix.counts.sum()) == 8 and int(matrix.counts[2, 5]) == 1


def test_frame_scores_fold_both_sides():
    symbols = ["aa", "ao", "q", "b"]  # ao folds to aa; q is dropped
    folded = fold_index(symbols, 39)
    assert folded[2] == IGNORE
    scores = Scores()
    predicted, target = torch.tensor([1, 0, 2, 3]), torch.tensor([0, 1, 3, 2])
    scores.add_frames(folded[predicted], folded[target])
    assert (scores.frames_correct, scores.frames_total) == (2, 3)
