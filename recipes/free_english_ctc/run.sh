#!/usr/bin/env bash
# English phone recognition from freely licensed speech only (CPU, 2 threads): LibriSpeech
# (native US English, phones from the lexicon), speechocean762 (real learners of English,
# canonical phones), three FSDD speakers and the synthetic corpus. Scored on LibriSpeech and
# speechocean762 speakers it never trained on, on the 8 hand-labelled TIMIT-sample speakers (a
# corpus it never trains on), as digit accuracy on the fourth FSDD speaker, and beside
# PocketSphinx on the same utterances.
# Usage: recipes/free_english_ctc/run.sh [more phonelstm-train overrides...]
# Corpus folders (defaults: ../shared/data/...): LIBRISPEECH and SPEECHOCEAN762 (when missing,
# downloaded from OpenSLR), FSDD (a clone of the FSDD repository), TIMIT_SAMPLE (NLTK's).
set -euo pipefail
source "$(dirname "$0")/../path.sh"
name=${NAME:-free_english_ctc}
source recipes/free_english_ctc/phase2.sh  # $exp, root_of, $ls_root, $speed and phase2
so_root=$(root_of "${SPEECHOCEAN762:-../shared/data/speechocean762}")
fsdd=${FSDD:-../shared/data/fsdd}
timit=${TIMIT_SAMPLE:-../shared/data/timit_sample}
speakers='[fvmh0,mcpm0,faem0,marc0,falk0,madc0,falr0,maeb0]'

$PYTHON -m phonelstm.prepare                                    # synthetic speech
$PYTHON -m phonelstm.prepare data=librispeech "$ls_root"        # dev/test speakers by seed
$PYTHON -m phonelstm.prepare data=speechocean762 "$so_root"
# FSDD: george, jackson and lucas train; nicolas is the unseen digit test speaker
$PYTHON -m phonelstm.prepare data=fsdd data.root="$fsdd" data.dir=data/fsdd_free \
    'data.fsdd.train_speakers=[george,jackson,lucas]' 'data.fsdd.dev_speakers=[]'
# the TIMIT sample for evaluation only: all 8 speakers as one test split
$PYTHON -m phonelstm.prepare data=timit_sample data.root="$timit" \
    data.dir=data/timit_sample_eval 'data.timit.train_speakers=[]' \
    'data.timit.dev_speakers=[]' "data.timit.test_speakers=$speakers"

# phase 0: the synthetic corpus alone, 4 epochs, so that phase 1 starts past CTC's all-blank
# first epochs
$PYTHON -m phonelstm.train experiment=free_english_ctc data=synth 'data.extra_train=[]' \
    data.train_repeat=1 trainer.max_epochs=4 trainer.beam=1 name="${name}_synth" "$@"
# phase 1 (conf/experiment/free_english_ctc.yaml): every corpus, early stopping on the
# LibriSpeech dev speakers
$PYTHON -m phonelstm.train experiment=free_english_ctc "$ls_root" name="$name" \
    trainer.init_from="exp/synth/${name}_synth/best.pt" "$@"
# pronunciation variants chosen by the phase-1 model (CTC re-labelling) for LibriSpeech
for split in train dev; do
    $PYTHON scripts/relabel.py "$exp/best.pt" "data/librispeech/$split.jsonl" \
        --out "data/librispeech/${split}_variants.jsonl"
done
# phase 2 (phase2.sh), four runs: (a) Adam's lr 1e-3 as phase 1 began, FSDD three times;
# (b) lr 3e-4 with speed perturbation (0.9, 1.0, 1.1 per batch); (c) as (b) with FSDD six
# times and another seed; (d) as (c) with vocal tract length perturbation and silence
# trimming (half the utterances) and another seed
phase2 "${name}_noise" 3 "$@"
phase2 "${name}_speed" 3 "${speed[@]}" "$@"
phase2 "${name}_digits" 6 "${speed[@]}" trainer.seed=1 "$@"
phase2 "${name}_vtlp_trim" 6 "${speed[@]}" data.augment.vtlp=0.1 data.augment.trim_prob=0.5 \
    trainer.seed=4 "$@"
# the model to ship (weights and feature statistics only): the mean of phase 1's best weights
# and the best and last of each phase-2 run (checkpoint averaging), scored with the peer
runs=("${exp}_noise" "${exp}_speed" "${exp}_digits" "${exp}_vtlp_trim") avg=${exp}_avg
checkpoints=()
for run in "${runs[@]}"; do checkpoints+=("$run/best.pt" "$run/last.pt"); done
$PYTHON scripts/export_model.py "$exp/best.pt" "$avg/free_english_ctc.pt" --average \
    "${checkpoints[@]}"
recipes/free_english_ctc/score.sh "$avg/free_english_ctc.pt" "$avg"
for run in "$exp" "${runs[@]}"; do
    recipes/free_english_ctc/score.sh "$run/best.pt" "$run"
done
recipes/free_english_ctc/score.sh pocketsphinx exp/librispeech/pocketsphinx
$PYTHON scripts/collect_results.py exp/synth/${name}_synth "$exp" "${runs[@]}" "$avg" \
    exp/librispeech/pocketsphinx --readme recipes/free_english_ctc/README.md
