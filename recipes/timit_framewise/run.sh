#!/usr/bin/env bash
# Framewise phoneme classification, Graves & Schmidhuber (2005): prepare the corpus, train
# the six ~100k-weight networks in one Hydra multirun (each evaluates its best checkpoint on
# the test set when it stops), then collect the results table into this recipe's README.
#
#   recipes/timit_framewise/run.sh data=timit_sample                   # CPU, minutes
#   recipes/timit_framewise/run.sh data=timit data.root=/data/TIMIT    # full LDC TIMIT
#
# Every argument is a Hydra override for phonelstm-train (data.* ones also go to
# phonelstm-prepare). MODELS picks the networks, PYTHON the interpreter (default: the
# project's .venv made by `make venv`, else python).
set -euo pipefail
source "$(dirname "$0")/../path.sh"
MODELS=${MODELS:-fw_mlp,fw_mlp_context,fw_rnn,fw_lstm_delay,fw_brnn,fw_blstm}

data_args=()
for arg in "$@"; do
  [[ $arg == data=* || $arg == data.* ]] && data_args+=("$arg")
done
bounds=()
if [[ " $* " == *" data=timit_sample "* ]]; then
  # 48 training utterances: at most 60 epochs a network on the CPU; later arguments still win
  bounds=(trainer.max_epochs=60 trainer.patience=6 trainer.num_threads=1
          optim.lr=3e-3)
fi

$PYTHON -m phonelstm.prepare "${data_args[@]}"
$PYTHON -m phonelstm.train --multirun experiment=timit_framewise "model=$MODELS" \
  'name=${hydra:runtime.choices.model}' "${bounds[@]}" "$@"
data_name=$($PYTHON -m phonelstm.prepare "${data_args[@]}" --cfg job --package data \
  | sed -n 's/^name: //p')
$PYTHON scripts/collect_framewise.py "exp/$data_name" --models "$MODELS" \
  --readme recipes/timit_framewise/README.md --table "$data_name"
