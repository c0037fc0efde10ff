#!/usr/bin/env bash
# The augmentation ablation of this recipe's README: short runs (5 epochs, 1 thread each, no
# early stopping) on speechocean762 + three FSDD speakers, a 2 x 128 BLSTM with SpecAugment,
# no waveform augmentation and features at scale 1 (as measured), each run switching on one
# thing; scored on speechocean762 dev, the TIMIT sample and the unseen FSDD speaker.
# Needs the manifests run.sh prepares. Usage: recipes/free_english_ctc/ablation.sh
set -euo pipefail
source "$(dirname "$0")/../path.sh"
so=${SPEECHOCEAN762:-../shared/data/speechocean762}
so_root=$([[ -d $so ]] && echo "data.root=$so" || echo "data.root=null")
out=exp/speechocean762/ablation

run() {  # run <name> [overrides...]
    local name=$1; shift
    $PYTHON -m phonelstm.train experiment=free_english_ctc "$so_root" \
        'data.extra_train=[data/fsdd_free/train.jsonl]' data.augment.telephone_prob=0 \
        data.augment.noise_prob=0 features.wave_scale=1 model.layers=2 model.hidden=128 \
        trainer.max_epochs=5 trainer.patience=0 trainer.beam=1 trainer.num_threads=1 \
        name="$name" out_dir="$out/$name" "$@"
    $PYTHON -m phonelstm.evaluate checkpoint="$out/$name/best.pt" plot_utterances=0 \
        data=data/timit_sample_eval/test.jsonl out="$out/$name/timit_sample_beam1" overwrite=true
    $PYTHON scripts/score_digits.py "$out/$name/best.pt" --manifest data/fsdd_free/test.jsonl
}
run none
run gain data.augment.gain_db=20
run speed 'data.augment.speeds=[0.9,1.0,1.1]'
run noise data.augment.noise_prob=0.3
run reverb data.augment.reverb_prob=0.3
run telephone data.augment.telephone_prob=0.3 'data.augment.telephone_hz=[4000,4000]'
run 3x192 model.layers=3 model.hidden=192
$PYTHON scripts/collect_results.py $out --readme recipes/free_english_ctc/README.md \
    --marker ablation
