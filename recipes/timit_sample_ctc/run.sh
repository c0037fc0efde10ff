#!/usr/bin/env bash
# BLSTM-CTC on synthetic speech plus 6 speakers of the free TIMIT sample (CPU); dev and test
# are the sample's two held-out speakers (falr0, maeb0).
# Usage: recipes/timit_sample_ctc/run.sh [more overrides...]
# Two threads on any machine (trainer.num_threads=2): the figures do not depend on the cores.
set -euo pipefail
source "$(dirname "$0")/../path.sh"

$PYTHON -m phonelstm.prepare                    # synthetic speech -> data/synth
$PYTHON -m phonelstm.prepare data=timit_sample  # TIMIT sample -> data/timit_sample
# the 48 real utterances 20 times an epoch beside 4000 synthetic ones; per-utterance mean
# and variance normalisation, which suits both kinds of audio
$PYTHON -m phonelstm.train data=timit_sample 'data.extra_train=[data/synth/train.jsonl]' \
    data.train_repeat=20 features.normalize=utterance data.max_frames_per_batch=8000 \
    name=synth_plus_sample trainer.max_epochs=8 trainer.beam=16 trainer.num_threads=2 "$@"
# the same model on the 6 real speakers alone, for comparison: a constant learning rate
# (the plateau schedule halves it away while dev PER sits at 100% on blank-only output) and
# no early stopping (the best dev epoch is kept)
$PYTHON -m phonelstm.train data=timit_sample features.normalize=utterance name=sample_only \
    trainer.max_epochs=90 trainer.patience=0 optim.schedule=none \
    trainer.beam=16 trainer.num_threads=2 "$@"
$PYTHON scripts/collect_results.py exp/timit_sample/synth_plus_sample exp/timit_sample/sample_only \
    --readme recipes/timit_sample_ctc/README.md
