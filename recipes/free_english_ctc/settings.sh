#!/usr/bin/env bash
# The settings table of this recipe's README: runs that each change one thing against run.sh
# at a fixed number of epochs (no early stopping, 2 threads), scored like the recipe
# (score.sh): phase 1 stopped after 4 of its 12 epochs; phase 2 on phase 1's mix (LibriSpeech
# three times an epoch, the other corpora once) instead of the rebalanced one; phase 0 at
# 40 ms and 20 ms frames (4 and 2 stacked) instead of 30 ms, scored on the synthetic dev and
# test speakers beside run.sh's phase 0 (scripts/bench_frame_rate.py times the stackings).
# Needs run.sh's manifests and checkpoints. Usage: recipes/free_english_ctc/settings.sh
set -euo pipefail
source "$(dirname "$0")/../path.sh"
ls_root=$([[ -d ${LIBRISPEECH:-../shared/data/librispeech} ]] \
    && echo "data.root=${LIBRISPEECH:-../shared/data/librispeech}" || echo "data.root=null")
out=exp/librispeech/settings
recipe=exp/librispeech/free_english_ctc

train() {  # train <name> [overrides...]: phonelstm-train into $out/<name>
    local name=$1; shift
    $PYTHON -m phonelstm.train experiment=free_english_ctc trainer.patience=0 name="$name" \
        out_dir="$out/$name" "$@"
}
train recipe_4_epochs "$ls_root" trainer.max_epochs=4 \
    trainer.init_from=exp/synth/free_english_ctc_synth/best.pt
recipes/free_english_ctc/score.sh "$out/recipe_4_epochs/best.pt" "$out/recipe_4_epochs"
train phase2_phase1_mix "$ls_root" 'data.train_manifests=[train_variants]' \
    data.dev_manifest=dev_variants trainer.init_from="$recipe/best.pt" \
    trainer.weight_noise=0.03 trainer.max_epochs=3
recipes/free_english_ctc/score.sh "$out/phase2_phase1_mix/best.pt" "$out/phase2_phase1_mix"
for stack in 4 2; do
    train "synth_$((10 * stack))ms" data=synth 'data.extra_train=[]' data.train_repeat=1 \
        trainer.max_epochs=4 trainer.beam=1 model.stack_frames=$stack
done
$PYTHON scripts/collect_results.py $out exp/synth/free_english_ctc_synth \
    --readme recipes/free_english_ctc/README.md --marker settings
