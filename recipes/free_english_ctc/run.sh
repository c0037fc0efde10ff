#!/usr/bin/env bash
# English phone recognition from freely licensed speech only (CPU): speechocean762 (real
# learners of English, canonical phones), three FSDD speakers and the synthetic corpus.
# Scored on speechocean762 dev/test speakers, on the 8 hand-labelled TIMIT-sample speakers
# (a corpus it never trains on) and as digit accuracy on the fourth FSDD speaker.
# Usage: recipes/free_english_ctc/run.sh [more phonelstm-train overrides...]
# Corpus folders (defaults: ../shared/data/...): SPEECHOCEAN762 (when missing, the release
# is downloaded from OpenSLR), FSDD (a clone of the FSDD repository), TIMIT_SAMPLE (NLTK's).
set -euo pipefail
source "$(dirname "$0")/../path.sh"
name=${NAME:-free_english_ctc}
exp=exp/speechocean762/$name
so=${SPEECHOCEAN762:-../shared/data/speechocean762}
so_root=$([[ -d $so ]] && echo "data.root=$so" || echo "data.root=null")
fsdd=${FSDD:-../shared/data/fsdd}
timit=${TIMIT_SAMPLE:-../shared/data/timit_sample}
speakers='[fvmh0,mcpm0,faem0,marc0,falk0,madc0,falr0,maeb0]'

$PYTHON -m phonelstm.prepare                                    # synthetic speech
$PYTHON -m phonelstm.prepare data=speechocean762 "$so_root"     # dev/test speakers by seed
# FSDD: george, jackson and lucas train; nicolas is the unseen digit test speaker
$PYTHON -m phonelstm.prepare data=fsdd data.root="$fsdd" data.dir=data/fsdd_free \
    'data.fsdd.train_speakers=[george,jackson,lucas]' 'data.fsdd.dev_speakers=[]'
# the TIMIT sample for evaluation only: all 8 speakers as one test split
$PYTHON -m phonelstm.prepare data=timit_sample data.root="$timit" \
    data.dir=data/timit_sample_eval 'data.timit.train_speakers=[]' \
    'data.timit.dev_speakers=[]' "data.timit.test_speakers=$speakers"
# conf/experiment/free_english_ctc.yaml; early stopping on the speechocean762 dev speakers
$PYTHON -m phonelstm.train experiment=free_english_ctc "$so_root" name="$name" "$@"
# second phase (Graves et al. 2013): Gaussian weight noise, from the best checkpoint
$PYTHON -m phonelstm.train experiment=free_english_ctc "$so_root" name="${name}_noise" \
    trainer.init_from=$exp/best.pt trainer.weight_noise=0.03 trainer.max_epochs=3 "$@"
noise=${exp}_noise
# the model to ship: weights and feature statistics only
$PYTHON scripts/export_model.py $noise/best.pt $noise/free_english_ctc.pt
for beam in 1 16; do
    $PYTHON -m phonelstm.evaluate checkpoint=$noise/free_english_ctc.pt beam=$beam \
        data=data/timit_sample_eval/test.jsonl out=$noise/timit_sample_beam$beam overwrite=true \
        plot_utterances=0
    $PYTHON scripts/score_digits.py $noise/free_english_ctc.pt --beam $beam \
        --manifest data/fsdd_free/test.jsonl
done
$PYTHON scripts/collect_results.py $exp $noise --readme recipes/free_english_ctc/README.md
