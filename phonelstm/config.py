"""Typed configuration: one dataclass per Hydra config group.

Hydra composes YAML from ``conf/``; the entry points convert the result to these dataclasses
once (``to_dataclass``) and plain Python takes it from there. The dataclasses are also
registered as Hydra structured-config schemas, so an unknown key is rejected at compose time.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from phonelstm.errors import PhonelstmError

MISSING = "???"


@dataclass
class SynthConfig:
    """Embedded synthetic speech corpus (eSpeak NG); see ``phonelstm.data.synth``."""

    seed: int = 0
    sample_rate: int = 16000
    dev_voices: int = 3
    test_voices: int = 3
    train_voices: int = 0  # 0: every voice not used for dev/test
    sentences_per_train_voice: int = 100
    sentences_per_eval_voice: int = 40
    eval_sentences: int = 120  # held out of training: half for dev, half for test voices
    noise_std: float = 3e-4  # dither so silence is never digital zero
    # eSpeak NG accents the voices speak in, dealt out in turn (e.g. [en-us, en-us-nyc] for
    # American English only); empty: all eight (phonelstm.data.synth.plan.ACCENTS)
    accents: list[str] = field(default_factory=list)
    workers: int = 2


@dataclass
class TimitConfig:
    """TIMIT (LDC or NLTK layout); see ``phonelstm.data.timit``."""

    include_sa: bool = False
    # "standard": the 462/50/24-speaker train/dev/core-test split;
    # "speakers": train/dev/test speaker lists below (for the sample or subsets);
    # "regions": train/dev/test dialect-region lists (dr1..dr8).
    split: str = "standard"
    full_test: bool = False  # test on all 168 test speakers instead of the 24 core ones
    train_speakers: list[str] = field(default_factory=list)
    dev_speakers: list[str] = field(default_factory=list)
    test_speakers: list[str] = field(default_factory=list)
    train_regions: list[str] = field(default_factory=list)
    dev_regions: list[str] = field(default_factory=list)
    test_regions: list[str] = field(default_factory=list)


@dataclass
class FsddConfig:
    """Free Spoken Digit Dataset; see ``phonelstm.data.fsdd``."""

    train_speakers: list[str] = field(default_factory=lambda: ["george", "jackson"])
    dev_speakers: list[str] = field(default_factory=lambda: ["lucas"])
    test_speakers: list[str] = field(default_factory=lambda: ["nicolas"])


@dataclass
class Speechocean762Config:
    """speechocean762 (OpenSLR 101); see ``phonelstm.data.speechocean762``."""

    seed: int = 0  # draw of the dev (and test) speakers
    # text-phone: the corpus's canonical phones of each word (resource/text-phone) |
    # lexicon: its text pronounced by phonelstm.data.lexicon (data.lexicon), as LibriSpeech's is
    phones: str = "text-phone"
    dev_speakers: float = 0.1  # held out of train/ for dev: a fraction (< 1) or a number
    test_speakers: float = 0.1  # only when the copy has no test/: held out of train/ likewise
    child_age: int = 16  # younger speakers are children; draws are by age group and gender
    # without data.root and no copy in <data.dir>/download/: the release archive is fetched
    url: str = "https://www.openslr.org/resources/101/speechocean762.tar.gz"
    sha256: str = ""  # checked when set: OpenSLR publishes no checksum for this archive
    archive_bytes: int = 520810923  # the archive's size, from Kaldi's recipe; 0: not checked


@dataclass
class LibrispeechConfig:
    """LibriSpeech (OpenSLR 12); see ``phonelstm.data.librispeech``."""

    subsets: list[str] = field(default_factory=lambda: ["dev-clean"])  # training subsets
    dev_subsets: list[str] = field(default_factory=list)  # []: dev speakers drawn from subsets
    test_subsets: list[str] = field(default_factory=list)  # []: test speakers drawn likewise
    seed: int = 0  # draw of the dev (and test) speakers, by gender
    dev_speakers: float = 0.1  # without dev_subsets: a fraction (< 1) or a number; 0: none
    test_speakers: float = 0.1  # without test_subsets: likewise
    # without data.root: subsets missing from <data.dir>/download/LibriSpeech are fetched
    url: str = "https://www.openslr.org/resources/12"


@dataclass
class AlignedConfig:
    """Any aligned corpus (``corpus=manifest`` or ``textgrid``); see ``phonelstm.data.aligned``."""

    split: str = "given"  # given (per-split files/folders or a split column) | speakers
    train_speakers: list[str] = field(default_factory=list)
    dev_speakers: list[str] = field(default_factory=list)
    test_speakers: list[str] = field(default_factory=list)
    phone_map: str = ""  # "": symbols are TIMIT-61 already | arpabet | path to a 2-column file
    phone_map_dict: dict[str, str] = field(default_factory=dict)  # overrides phone_map entries
    tier: str = "phones"  # TextGrid tier holding the phones
    silence_labels: list[str] = field(default_factory=lambda: ["", "sil", "sp"])


@dataclass
class LhotseConfig:
    """Lhotse manifests as a corpus (``corpus=lhotse``); see ``phonelstm.data.lhotse_in``."""

    # per split: a CutSet file, or a RecordingSet and a SupervisionSet file (.jsonl[.gz]),
    # relative to data.root (or the current directory without it); []: an empty split
    train: list[str] = field(default_factory=list)
    dev: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    phone_map: str = ""  # "": symbols are TIMIT-61 already | arpabet | path to a 2-column file
    phone_map_dict: dict[str, str] = field(default_factory=dict)  # overrides phone_map entries
    silence_labels: list[str] = field(default_factory=list)  # -> h# at the edges, pau inside


@dataclass
class LexiconConfig:
    """Words -> TIMIT-61 phones for corpora with only text; see ``phonelstm.data.lexicon``."""

    dictionary: str = "cmudict"  # cmudict (shipped) | a CMUdict/LibriSpeech/MFA-form file
    fallback: str = "espeak"  # espeak: eSpeak NG pronounces words the dictionary lacks | none
    # each brings the dictionary's phones closer to what people say (measured on the TIMIT
    # sample: phonelstm.data.lexicon's docstring)
    flap: bool = True  # American flapping: t/d between a vowel and an unstressed vowel -> dx
    reduce: bool = True  # schwa -> ix before coronals and velars; ax + l/n/m -> el/en/em
    unreleased: bool = True  # no closure after silence; a stop before a consonant: closure only


@dataclass
class AugmentConfig:
    """Waveform augmentation of training batches; see ``phonelstm.data.augment``. All off."""

    gain_db: float = 0.0  # random gain per utterance, uniform in +-gain_db dB; 0: off
    speeds: list[float] = field(default_factory=list)  # one per batch, e.g. [0.9,1.0,1.1]
    noise_prob: float = 0.0  # share of utterances with white/pink/babble noise added
    snr_db: list[float] = field(default_factory=lambda: [5.0, 30.0])  # noise SNR range
    reverb_prob: float = 0.0  # share of utterances convolved with a synthetic room
    rt60: list[float] = field(default_factory=lambda: [0.2, 0.8])  # reverberation times, s
    telephone_prob: float = 0.0  # share of utterances band-limited (a telephone, a narrow mic)
    telephone_hz: list[float] = field(default_factory=lambda: [4000.0, 4000.0])  # band edge
    vtlp: float = 0.0  # vocal tract length perturbation: warp factor uniform in 1 +- vtlp; 0: off
    trim_prob: float = 0.0  # share of utterances with leading/trailing silence cut at random
    trim_db: float = 30.0  # silence: a 10 ms frame this many dB below the loudest one


@dataclass
class DataConfig:
    """Which corpus, where its manifests live, and how batches are formed."""

    name: str = "synth"  # names the default exp/<name>/ folder
    # synth | timit | fsdd | manifest | textgrid | speechocean762 | librispeech | lhotse
    corpus: str = "synth"
    root: str | None = None  # raw corpus folder (timit, fsdd, librispeech, textgrid, ...)
    dir: str = "data/synth"  # prepared manifests: <dir>/{train,dev,test}.jsonl
    train_manifests: list[str] = field(default_factory=lambda: ["train"])
    extra_train: list[str] = field(default_factory=list)  # more training manifests (repeatable)
    train_repeat: int = 1  # the corpus's own training utterances this many times an epoch
    dev_manifest: str = "dev"  # <dir>/<name>.jsonl used for early stopping
    test_manifest: str = "test"  # <dir>/<name>.jsonl scored at the end
    max_frames_per_batch: int = 8000  # padded feature frames per batch
    max_batch_size: int = 64  # utterances per batch
    bucket_width: int = 10  # frames; smaller buckets pad less, larger ones vary batches more
    num_workers: int = 0  # DataLoader worker processes
    synth: SynthConfig = field(default_factory=SynthConfig)
    timit: TimitConfig = field(default_factory=TimitConfig)
    fsdd: FsddConfig = field(default_factory=FsddConfig)
    speechocean762: Speechocean762Config = field(default_factory=Speechocean762Config)
    librispeech: LibrispeechConfig = field(default_factory=LibrispeechConfig)
    lexicon: LexiconConfig = field(default_factory=LexiconConfig)
    aligned: AlignedConfig = field(default_factory=AlignedConfig)
    lhotse: LhotseConfig = field(default_factory=LhotseConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class SpecAugmentConfig:
    """Training-time masks on normalised features (Park et al. 2019); 0 masks: off."""

    time_masks: int = 0  # masks per utterance along time
    time_width: int = 20  # widest time mask, frames
    freq_masks: int = 0  # masks per utterance over mel/cepstral channels (same in every delta)
    freq_width: int = 8  # widest channel mask


@dataclass
class FeatureConfig:
    """Acoustic features; see ``phonelstm.features`` for the frame-count rule."""

    kind: str = "fbank"  # fbank (log mel + log energy) | mfcc (cepstra + log energy)
    sample_rate: int = 16000
    win_ms: float = 25.0  # analysis window
    hop_ms: float = 10.0  # frame step
    n_mels: int = 40  # mel filters
    n_ceps: int = 12  # MFCC only: cepstra c1..c12, log energy added separately
    preemphasis: float = 0.97  # 0: none
    # waveform (-1..1) times this before features; 32768: 16-bit units, as Kaldi reads audio,
    # so the log floor lies ~90 dB below full scale and quiet recordings are not floored
    wave_scale: float = 1.0
    delta_order: int = 2  # 0: statics only, 1: + deltas, 2: + delta-deltas
    delta_window: int = 2  # frames each side in the delta regression
    normalize: str = "global"  # global (training-set stats) | utterance | none
    backend: str = "torchaudio"  # torchaudio (batched torch, any device) | librosa (per utt, CPU)
    cache: bool = False  # keep un-normalised features under <data.dir>/.feature_cache/
    specaugment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)


@dataclass
class ModelConfig:
    """Acoustic model; see ``phonelstm.model``."""

    arch: str = "rnn"  # rnn (stacked recurrent layers) | mlp (feed-forward, per frame)
    cell: str = "lstm"  # lstm | gru | rnn_tanh
    bidirectional: bool = True
    hidden: int = 192  # units per direction (cells per direction for the LSTM; MLP: per layer)
    layers: int = 3
    proj_size: int = 0  # LSTMP recurrent projection (LSTM only); 0: none
    peephole: bool = False  # LSTM cells with peephole connections (custom cell, no cuDNN)
    dropout: float = 0.1  # between layers
    stack_frames: int = 1  # concatenate k frames, reducing the frame rate k times
    target_delay: int = 0  # rnn: the output for frame t is emitted at step t + target_delay
    context: int = 0  # mlp: classify each frame from a window of +-context frames


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # global gradient norm clip; 0: none
    schedule: str = "plateau"  # plateau | none
    plateau_factor: float = 0.5  # lr multiplier when dev stops improving
    plateau_patience: int = 2  # epochs without improvement before the lr drops


@dataclass
class TrainerConfig:
    task: str = "ctc"  # ctc | framewise
    max_epochs: int = 20
    max_minutes: float = 0.0  # 0: no time limit
    patience: int = 4  # early stopping on the dev metric; 0 disables
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    log_every: int = 20  # steps between logged training losses
    eval_test: bool = True  # score the test split with the best checkpoint at the end
    score_phones: int = 39  # 39 | 48 | 61
    num_threads: int = 0  # torch intra-op threads on CPU; 0: leave torch's default
    save_every_steps: int = 0  # also checkpoint mid-epoch (exact resume); 0: epoch ends only
    amp: str = "none"  # none | bf16 | fp16: autocast around the model (CTC stays fp32)
    weight_noise: float = 0.0  # std of Gaussian noise on the weights per training batch
    init_from: str | None = None  # start from this checkpoint's weights and feature stats
    beam: int = 1  # beam width for the final test scoring; 1: greedy (best path)
    beam_backend: str = "auto"  # auto (torchaudio if importable) | torchaudio | python
    # static batch shapes, padded RNN, CUDA graphs on GPU (phonelstm.training.step); null: on CUDA
    fast: bool | None = None
    # with fast on CUDA: each LSTM layer as one Triton kernel over all steps (else cuDNN)
    persistent_lstm: bool = True
    static_frames: int = 32  # with fast: time is padded to a multiple of this many frames


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    name: str = "default"  # experiment name, part of the default out_dir
    out_dir: str = "exp/default"  # checkpoints, logs, results.json
    resume: bool = True  # continue from <out_dir>/last.pt when it exists


@dataclass
class PrepareConfig:
    data: DataConfig = field(default_factory=DataConfig)
    corpus: str | None = None  # shorthand for data.corpus; also sets out=data/<corpus>
    root: str | None = None  # shorthand for data.root
    out: str | None = None  # shorthand for data.dir
    force: bool = False  # prepare again even when the manifests exist
    # lhotse: also write the prepared splits as Lhotse manifests (recordings, supervisions
    # with phone alignments, cuts) to <data.dir>/lhotse/; needs pip install 'phonelstm[lhotse]'
    export: str | None = None

    def resolved(self) -> DataConfig:
        """The data config with the shorthands applied."""
        data = self.data
        if self.corpus:
            data.corpus, data.name = self.corpus, self.corpus
            data.dir = f"data/{self.corpus}"
        if self.root:
            data.root = self.root
        if self.out:
            data.dir = self.out
        return data


@dataclass
class DecodeConfig:
    """``phonelstm-decode``; see ``phonelstm.decode`` and ``phonelstm.writers``."""

    checkpoint: str | None = None  # best.pt/last.pt of phonelstm-train; none: the shipped model
    input: str = MISSING  # audio file | folder | manifest.jsonl | glob
    out: str | None = None  # output folder; none: print phones and times
    format: Any = "txt"  # txt | json | ctm | textgrid | posteriors, or a list of them
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N
    beam: int = 1  # CTC prefix beam width; 1: greedy
    align: bool = False  # force-align the manifest phones / .phn transcripts instead
    transcript: str | None = None  # "<id> <phone> ..." lines to force-align (implies align)
    batch_seconds: float = 600.0  # padded audio per batch
    chunk_seconds: float = 30.0  # longer recordings run in windows of this length
    context_seconds: float = 2.0  # audio each side of a window whose outputs are dropped
    overwrite: bool = False  # replace output files that exist
    continue_on_error: bool = False  # exit 0 even when some audio files could not be decoded


@dataclass
class EvaluateConfig:
    """``phonelstm-evaluate``; see ``phonelstm.evaluate``."""

    checkpoint: str | None = None  # with data=: decode the manifest's audio
    data: str | None = None  # manifest.jsonl with reference phones (and segments)
    hyp: str | None = None  # or score "<id> <phone> ..." hypothesis lines ...
    ref: str | None = None  # ... against reference lines
    out: str = "eval_report"  # report folder
    score_phones: int = 39  # 39 | 48 | 61: fold both sides before scoring
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N
    beam: int = 1  # CTC prefix beam width; 1: greedy
    batch_seconds: float = 600.0  # padded audio per batch
    top_confusions: int = 20  # most frequent substitutions listed in the report
    plot_utterances: int = 3  # pictures of the first N utterances (checkpoint mode)
    plot_ids: list[str] = field(default_factory=list)  # or of these utterance ids
    overwrite: bool = False  # replace the files of a report folder that exists
    continue_on_error: bool = False  # exit 0 even when some audio files could not be decoded


def register_schemas() -> None:
    """Register the dataclasses as Hydra schemas, so unknown keys fail at compose time."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="prepare_schema", node=PrepareConfig)
    store.store(name="decode_schema", node=DecodeConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)


class ConfigError(PhonelstmError):
    """A config key that no dataclass has."""


def to_dataclass(cls: type, cfg: DictConfig | dict, strict: bool = True, where: str = "") -> Any:
    """Convert a (resolved) DictConfig or plain dict into the dataclass ``cls``, recursively.

    ``strict``: a key ``cls`` has no field for is an error (user input); checkpoints of other
    versions are read with ``strict=False``, which drops such keys."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(cfg) - set(names))
    if strict and unknown:
        close = difflib.get_close_matches(unknown[0], names, n=1)
        hint = f" (did you mean {where}{close[0]}?)" if close else ""
        raise ConfigError(f"unknown config key {where}{unknown[0]}{hint}")
    kwargs = {}
    for name in names:
        if name in cfg:
            value, kind = cfg[name], hints[name]
            kwargs[name] = (to_dataclass(kind, value, strict, f"{where}{name}.")
                            if is_dataclass(kind) else value)
    return cls(**kwargs)


register_schemas()
