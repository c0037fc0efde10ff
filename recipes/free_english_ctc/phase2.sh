# Sourced by run.sh and settings.sh (after path.sh, with $name set): root_of (a corpus folder
# as a data.root override; null when missing: downloaded from OpenSLR), the LibriSpeech root,
# and phase 2 of the recipe (Graves et al. 2013): Gaussian weight noise, from phase 1's best
# checkpoint ($exp/best.pt), on the relabelled LibriSpeech; the mix leans towards the other
# scored speakers: LibriSpeech twice an epoch, speechocean762 twice, the FSDD speakers N times.
exp=exp/librispeech/$name
root_of() { [[ -d $1 ]] && echo "data.root=$1" || echo "data.root=null"; }
ls_root=$(root_of "${LIBRISPEECH:-../shared/data/librispeech}")
speed=(optim.lr=3e-4 'data.augment.speeds=[0.9,1.0,1.1]')  # lr 3e-4, speed perturbation

phase2() {  # phase2 <run name> <FSDD repeats> [overrides...]
    local run=$1 so=data/speechocean762/train.jsonl
    local extra="$so,$so,data/synth/train.jsonl"; shift
    for ((i = 0; i < $1; i++)); do extra+=",data/fsdd_free/train.jsonl"; done; shift
    $PYTHON -m phonelstm.train experiment=free_english_ctc "$ls_root" name="$run" \
        'data.train_manifests=[train_variants]' data.dev_manifest=dev_variants \
        data.train_repeat=2 "data.extra_train=[$extra]" trainer.init_from="$exp/best.pt" \
        trainer.weight_noise=0.03 trainer.max_epochs=3 "$@"
}
