#!/usr/bin/env bash
# The settings table of this recipe's README: short runs (4 epochs, no early stopping, 2
# threads) of phase 1 from phase 0's checkpoint, each changing one thing against the recipe:
# LibriSpeech once an epoch instead of three times, no synthetic speech, the dictionary's
# phones without the lexicon's rules, 40 ms frames (4 stacked) instead of 30 ms, 3 x 256
# cells instead of 3 x 192 (the last two from their own phase 0, as the input layer
# differs). Scored like the recipe (score.sh). Needs run.sh's manifests and phase 0.
# Usage: recipes/free_english_ctc/settings.sh
set -euo pipefail
source "$(dirname "$0")/../path.sh"
ls_root=$([[ -d ${LIBRISPEECH:-../shared/data/librispeech} ]] \
    && echo "data.root=${LIBRISPEECH:-../shared/data/librispeech}" || echo "data.root=null")
out=exp/librispeech/settings
phase0=exp/synth/free_english_ctc_synth/best.pt

run() {  # run <name> <phase-0 checkpoint> [overrides...]
    local name=$1 init=$2; shift 2
    $PYTHON -m phonelstm.train experiment=free_english_ctc "$ls_root" trainer.max_epochs=4 \
        trainer.patience=0 trainer.init_from="$init" name="$name" out_dir="$out/$name" "$@"
    recipes/free_english_ctc/score.sh "$out/$name/best.pt" "$out/$name"
}
phase0() {  # phase0 <name> [overrides...]: the synthetic corpus alone, as run.sh's phase 0
    local name=$1; shift
    $PYTHON -m phonelstm.train experiment=free_english_ctc data=synth 'data.extra_train=[]' \
        data.train_repeat=1 trainer.max_epochs=4 trainer.beam=1 name="$name" \
        out_dir="$out/$name" "$@"
}
run recipe_4_epochs "$phase0"
run native_once "$phase0" data.train_repeat=1
run no_synthetic "$phase0" \
    'data.extra_train=[data/speechocean762/train.jsonl,data/fsdd_free/train.jsonl]'
# the dictionary's first pronunciations as they are: no flapping, reductions, unreleased stops
$PYTHON -m phonelstm.prepare data=librispeech "$ls_root" data.dir=data/librispeech_plain \
    data.lexicon.flap=false data.lexicon.reduce=false data.lexicon.unreleased=false
run dictionary_phones "$phase0" data.dir=data/librispeech_plain
# 40 ms frames: two FSDD recordings are too short for their labels at that rate
$PYTHON - <<'EOF'
from phonelstm.config import FeatureConfig
from phonelstm.data.dataset import utterance_frames
from phonelstm.data.manifest import read_manifest, write_manifest
utts = read_manifest("data/fsdd_free/train.jsonl")
frames = utterance_frames(utts, FeatureConfig())
repeats = [sum(a == b for a, b in zip(u.phones, u.phones[1:])) for u in utts]
keep = [u for u, n, r in zip(utts, frames, repeats) if -(-n // 4) >= len(u.phones) + r]
write_manifest("data/fsdd_free/train_40ms.jsonl", keep)
print(f"data/fsdd_free/train_40ms.jsonl: {len(keep)} of {len(utts)} recordings")
EOF
phase0 synth_40ms model.stack_frames=4
run frames_40ms "$out/synth_40ms/best.pt" model.stack_frames=4 \
    'data.extra_train=[data/speechocean762/train.jsonl,data/synth/train.jsonl,data/fsdd_free/train_40ms.jsonl]'
phase0 synth_3x256 model.hidden=256
run cells_3x256 "$out/synth_3x256/best.pt" model.hidden=256
$PYTHON scripts/collect_results.py $out --readme recipes/free_english_ctc/README.md \
    --marker settings
