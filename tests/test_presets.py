"""Model presets: the paper's weight counts, and GRU/LSTMP counts from their formulas."""

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from phonelstm.cli import CONF_DIR
from phonelstm.config import ModelConfig, to_dataclass
from phonelstm.model import build_model, count_parameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from paper_table import PAPER_TABLE1  # noqa: E402

INPUTS, OUTPUTS = 123, 62


def preset(name):
    return to_dataclass(ModelConfig, OmegaConf.load(Path(CONF_DIR, "model", f"{name}.yaml")))


def weights(name):
    return count_parameters(build_model(preset(name), INPUTS, OUTPUTS))


@pytest.mark.parametrize("name", sorted(PAPER_TABLE1))
def test_paper_presets_have_the_papers_weight_counts(name):
    paper_millions = PAPER_TABLE1[name][1]
    assert round(weights(name) / 1e6, 1) == paper_millions


def stack(layers, directions, per_direction, top):
    """Weights of a stack whose layer-l direction has ``per_direction(input)`` weights."""
    total, width = 0, INPUTS
    for _ in range(layers):
        total += directions * per_direction(width)
        width = directions * top
    return total + (width + 1) * OUTPUTS


def test_gru_and_lstmp_counts_follow_their_formulas_and_match_3x250():
    gru = stack(3, 2, lambda i: 3 * (290 * (i + 290) + 2 * 290), 290)
    h, p = 344, 160
    lstmp = stack(3, 2, lambda i: 4 * h * (i + p) + 8 * h + h * p, p)
    assert weights("bgru_3x290") == gru
    assert weights("blstmp_3x344p160") == lstmp
    for count in (gru, lstmp):
        assert abs(count / weights("blstm_3x250") - 1) < 0.005
