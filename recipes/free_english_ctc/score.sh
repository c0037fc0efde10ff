#!/usr/bin/env bash
# Score a model on the recipe's evaluation sets: the TIMIT sample (greedy and beam 16), the
# LibriSpeech dev and test speakers (the lexicon's first variants) and the speechocean762 dev
# and test speakers (beam 16), and digit accuracy on the unseen FSDD speaker; each report
# under <out>/<set>_beam<N>/ (scripts/score_sets.py: the model is loaded once).
# `pocketsphinx` instead of a model scores PocketSphinx's phone recogniser on the same sets.
# Needs the manifests run.sh prepares. Usage: recipes/free_english_ctc/score.sh <model.pt> <out>
set -euo pipefail
source "$(dirname "$0")/../path.sh"
model=$1 out=$2
sets=(timit_sample=data/timit_sample_eval/test.jsonl:1,16
      librispeech_dev=data/librispeech/dev.jsonl librispeech_test=data/librispeech/test.jsonl
      speechocean762_dev=data/speechocean762/dev.jsonl
      speechocean762_test=data/speechocean762/test.jsonl)
if [[ $model != pocketsphinx ]]; then
    exec $PYTHON scripts/score_sets.py "$model" "$out" "${sets[@]}" \
        --digits data/fsdd_free/test.jsonl
fi
for item in "${sets[@]}"; do
    set_name=${item%%=*} manifest=${item#*=} manifest=${manifest%:*}
    $PYTHON scripts/pocketsphinx_phones.py "$manifest" --out "$out/$set_name/pocketsphinx"
    $PYTHON -m phonelstm.evaluate hyp="$out/$set_name/pocketsphinx/hyp.txt" \
        ref="$out/$set_name/pocketsphinx/ref.txt" out="$out/${set_name}_beam1" overwrite=true
done
