from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from phonelstm.cli import CONF_DIR
from phonelstm.config import PrepareConfig, TrainConfig, to_dataclass

# conf/evaluate/ holds the evaluate entry point's own config, not a training group
GROUPS = {g.name: sorted(p.stem for p in g.glob("*.yaml")) for g in Path(CONF_DIR).iterdir()
          if g.is_dir()}


def _compose(name, overrides=()):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def test_default_train_config_composes():
    cfg = to_dataclass(TrainConfig, _compose("train"))
    assert cfg.data.corpus == "synth" and cfg.trainer.task == "ctc"
    assert cfg.out_dir == "exp/synth/ctc_lstm_3x192_fbank"


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts
                                          if g not in ("hydra", "evaluate")])
def test_every_group_option_composes(group, option):
    cfg = to_dataclass(TrainConfig, _compose("train", [f"{group}={option}"]))
    assert isinstance(cfg, TrainConfig)


def test_unknown_key_is_rejected_at_compose_time():
    with pytest.raises(Exception, match="nonsense"):
        _compose("train", ["model.nonsense=1"])


def test_prepare_shorthands():
    cfg = to_dataclass(PrepareConfig, _compose("prepare", ["corpus=manifest", "root=/x"]))
    data = cfg.resolved()
    assert (data.corpus, data.root, data.dir) == ("manifest", "/x", "data/manifest")
