#!/usr/bin/env bash
# Deep BLSTM-CTC phone recognition on full LDC TIMIT (Graves, Mohamed & Hinton 2013).
# Usage: recipes/timit_ctc/run.sh /path/to/TIMIT [model preset] [more overrides...]
#   e.g. recipes/timit_ctc/run.sh /data/TIMIT blstm_5x250 optim=paper
set -euo pipefail
source "$(dirname "$0")/../path.sh"
root=${1:?usage: $0 /path/to/TIMIT [model preset] [overrides...]}
model=${2:-blstm_5x250}
shift $(( $# >= 2 ? 2 : 1 ))
run=(data=timit "data.root=$root" "model=$model" trainer.beam=100 trainer.max_epochs=200
     trainer.patience=10 "$@")

$PYTHON -m phonelstm.prepare data=timit "data.root=$root"
# Phase 1, no weight noise. Training ends by scoring its best checkpoint on dev and the core
# test set, greedy and beam 100, on 39 folded phones: <out_dir>/results.json.
$PYTHON -m phonelstm.train "${run[@]}"
# Phase 2: Gaussian weight noise (std 0.075) from phase 1's best checkpoint.
$PYTHON -m phonelstm.train "${run[@]}" experiment=timit_ctc_noise
$PYTHON scripts/collect_results.py exp/timit --readme recipes/timit_ctc/README.md
