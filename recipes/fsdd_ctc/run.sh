#!/usr/bin/env bash
# BLSTM-CTC phone recognition on the Free Spoken Digit Dataset (CPU, speaker-disjoint),
# scored as PER and as digit accuracy through the 10-word lexicon.
# Usage: recipes/fsdd_ctc/run.sh [more overrides...]
set -euo pipefail
source "$(dirname "$0")/../path.sh"
name=fsdd_ctc

$PYTHON -m phonelstm.prepare data=fsdd
# 8 kHz recordings: features at 8 kHz (no upsampling), 40 mel bands up to 4 kHz; batches
# of at most 16 recordings (about 60 updates per epoch).
$PYTHON -m phonelstm.train data=fsdd features.sample_rate=8000 data.max_batch_size=16 name=$name \
    trainer.max_minutes=18 trainer.beam=16 "$@"
$PYTHON scripts/score_digits.py exp/fsdd/$name/best.pt --split test
$PYTHON scripts/score_digits.py exp/fsdd/$name/best.pt --split test --beam 16
$PYTHON scripts/collect_results.py exp/fsdd --readme recipes/fsdd_ctc/README.md
