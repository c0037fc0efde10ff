"""Frame stacking lowers the frame rate: an utterance too short for its labels is named."""

import pytest

from phonelstm.config import FeatureConfig
from phonelstm.data.corpus import DataError
from phonelstm.data.dataset import check_ctc_fit
from phonelstm.data.manifest import Utterance


def test_too_short_for_its_labels_at_the_frame_rate() -> None:
    # 0.2 s: 18 feature frames, 6 output frames at 30 ms, 5 at 40 ms; two equal phones in a
    # row need a blank between them
    utt = Utterance("u1", "u1.wav", "s", ["h#", "s", "ih", "kcl", "k", "k", "h#"],
                    duration=0.2)
    check_ctc_fit([utt], FeatureConfig(), 2, "m.jsonl")
    with pytest.raises(DataError, match=r"m.jsonl: utterance u1 is too short for its labels at "
                                        r"model.stack_frames=3: 6 output frames for 7 phones "
                                        r"\(CTC needs 8\); lower model.stack_frames"):
        check_ctc_fit([utt], FeatureConfig(), 3, "m.jsonl")
