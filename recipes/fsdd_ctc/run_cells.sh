#!/usr/bin/env bash
# LSTM, GRU and LSTMP at matched weight counts (about 3.8M each) on FSDD, with the
# settings of run.sh (conf/experiment/fsdd_ctc.yaml), as one Hydra multirun; rewrites the
# "cells" table of this recipe's README.
# Usage: recipes/fsdd_ctc/run_cells.sh [more overrides...]
set -euo pipefail
source "$(dirname "$0")/../path.sh"

$PYTHON -m phonelstm.prepare data=fsdd
$PYTHON -m phonelstm.train --multirun experiment=fsdd_ctc \
    model=blstm_3x250,bgru_3x290,blstmp_3x344p160 "$@"
$PYTHON scripts/collect_results.py exp/fsdd/ctc_lstm_3x250_fbank exp/fsdd/ctc_gru_3x290_fbank \
    exp/fsdd/ctc_lstm_3x344_fbank --readme recipes/fsdd_ctc/README.md --marker cells
