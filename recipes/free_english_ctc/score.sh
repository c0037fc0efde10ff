#!/usr/bin/env bash
# Score a model on the recipe's evaluation sets: the TIMIT sample (greedy and beam 16), the
# LibriSpeech dev and test speakers (the lexicon's first variants) and the speechocean762 dev
# and test speakers (beam 16), and digit accuracy on the unseen FSDD speaker; each report
# under <out>/<set>_beam<N>/.
# `pocketsphinx` instead of a model scores PocketSphinx's phone recogniser on the same sets.
# Needs the manifests run.sh prepares. Usage: recipes/free_english_ctc/score.sh <model.pt> <out>
set -euo pipefail
source "$(dirname "$0")/../path.sh"
model=$1 out=$2
sets=(timit_sample:data/timit_sample_eval/test.jsonl librispeech_dev:data/librispeech/dev.jsonl
      librispeech_test:data/librispeech/test.jsonl
      speechocean762_dev:data/speechocean762/dev.jsonl
      speechocean762_test:data/speechocean762/test.jsonl)
for item in "${sets[@]}"; do
    set_name=${item%%:*} manifest=${item#*:}
    if [[ $model == pocketsphinx ]]; then
        $PYTHON scripts/pocketsphinx_phones.py "$manifest" --out "$out/$set_name/pocketsphinx"
        $PYTHON -m phonelstm.evaluate hyp="$out/$set_name/pocketsphinx/hyp.txt" \
            ref="$out/$set_name/pocketsphinx/ref.txt" out="$out/${set_name}_beam1" overwrite=true
        continue
    fi
    beams=(16)
    [[ $set_name == timit_sample ]] && beams=(1 16)
    for beam in "${beams[@]}"; do
        $PYTHON -m phonelstm.evaluate checkpoint="$model" beam="$beam" data="$manifest" \
            out="$out/${set_name}_beam$beam" overwrite=true plot_utterances=0
    done
done
if [[ $model != pocketsphinx ]]; then
    for beam in 1 16; do
        $PYTHON scripts/score_digits.py "$model" --beam "$beam" \
            --manifest data/fsdd_free/test.jsonl --out "$out"
    done
fi
