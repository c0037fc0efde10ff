#!/usr/bin/env bash
# BLSTM-CTC phone recognition on the Free Spoken Digit Dataset (CPU, speaker-disjoint),
# scored as PER and as digit accuracy through the 10-word lexicon.
# Usage: recipes/fsdd_ctc/run.sh [more overrides...]
set -euo pipefail
source "$(dirname "$0")/../path.sh"
name=fsdd_ctc

$PYTHON -m phonelstm.prepare data=fsdd
# conf/experiment/fsdd_ctc.yaml: 8 kHz features, batches of 16, SpecAugment, dropout 0.3
$PYTHON -m phonelstm.train experiment=fsdd_ctc name=$name "$@"
$PYTHON scripts/score_digits.py exp/fsdd/$name/best.pt --split test --beam 1 16 --out exp/fsdd/$name
$PYTHON scripts/collect_results.py exp/fsdd/$name --readme recipes/fsdd_ctc/README.md
