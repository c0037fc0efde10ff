#!/usr/bin/env bash
# The settings table of this recipe's README: runs that each change one thing against run.sh
# at a fixed number of epochs (no early stopping, 2 threads), scored like the recipe
# (score.sh): phase 1 stopped after 4 of its 12 epochs; phase 0 at 40 ms frames (4 stacked)
# instead of 30 ms, scored on the synthetic dev and test speakers beside run.sh's phase 0
# (scripts/bench_frame_rate.py times the stackings); two more phase-2 runs (phase2.sh).
# Needs run.sh's manifests and checkpoints. Usage: recipes/free_english_ctc/settings.sh
set -euo pipefail
source "$(dirname "$0")/../path.sh"
name=free_english_ctc
source recipes/free_english_ctc/phase2.sh  # $exp, $ls_root, $speed and phase2
out=exp/librispeech/settings

train() {  # train <name> [overrides...]: phonelstm-train into $out/<name>
    local name=$1; shift
    $PYTHON -m phonelstm.train experiment=free_english_ctc trainer.patience=0 name="$name" \
        out_dir="$out/$name" "$@"
}
train recipe_4_epochs "$ls_root" trainer.max_epochs=4 \
    trainer.init_from=exp/synth/free_english_ctc_synth/best.pt
recipes/free_english_ctc/score.sh "$out/recipe_4_epochs/best.pt" "$out/recipe_4_epochs"
train synth_40ms data=synth 'data.extra_train=[]' data.train_repeat=1 trainer.max_epochs=4 \
    trainer.beam=1 model.stack_frames=4
# run.sh's _vtlp_trim with one of its two augmentations each (and its own seed): vocal
# tract length perturbation alone; silence trimming alone
phase2 "${name}_vtlp" 6 "${speed[@]}" data.augment.vtlp=0.1 trainer.seed=2
phase2 "${name}_trim" 6 "${speed[@]}" data.augment.trim_prob=0.5 trainer.seed=3
for run in "${exp}_vtlp" "${exp}_trim"; do
    recipes/free_english_ctc/score.sh "$run/best.pt" "$run"
done
$PYTHON scripts/collect_results.py $out exp/synth/free_english_ctc_synth "${exp}_vtlp" \
    "${exp}_trim" --readme recipes/free_english_ctc/README.md --marker settings
