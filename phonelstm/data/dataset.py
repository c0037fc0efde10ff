"""Utterances -> padded waveform batches with CTC targets and frame labels.

Features are computed from the batched waveforms on the training device (see
``phonelstm.features``), so loading here is only audio I/O and label bookkeeping; with a
``FeatureCache`` the examples carry stored features instead of waveforms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import soundfile as sf
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from phonelstm.audio import AudioError
from phonelstm.batch import Batch
from phonelstm.config import FeatureConfig
from phonelstm.data.corpus import DataError
from phonelstm.data.manifest import Utterance
from phonelstm.features import frame_params, num_frames
from phonelstm.losses import IGNORE
from phonelstm.phones import Vocabulary

if TYPE_CHECKING:
    from phonelstm.data.feature_cache import FeatureCache



def frame_labels(utt: Utterance, n_frames: int, vocab: Vocabulary, cfg: FeatureConfig) -> Tensor:
    """Label of every frame: the phone whose segment holds the frame's centre sample."""
    if utt.segments is None:
        raise DataError(f"utterance {utt.id} has no phone times (segments): "
                        "trainer.task=framewise needs a corpus with time-aligned phones")
    win, hop = frame_params(cfg)
    starts = torch.tensor([s for s, _ in utt.segments], dtype=torch.float64)
    ids = torch.tensor(vocab.encode(utt.phones), dtype=torch.long)
    centres = (torch.arange(n_frames, dtype=torch.float64) * hop + win // 2) / cfg.sample_rate
    # the last segment starting at or before each centre (bisect_right - 1); before the first
    # segment, the first phone
    segment = (torch.searchsorted(starts, centres, right=True) - 1).clamp_min(0)
    return ids[segment]  # (T,)


@dataclass
class Example:
    id: str
    wave: Tensor | None  # (N,); None when features come from the cache
    targets: Tensor  # (L,) phone indices
    frame_labels: Tensor | None  # (T,)
    feats: Tensor | None = None  # (T, F) un-normalised cached features


class SpeechDataset(Dataset):
    def __init__(self, utterances: Sequence[Utterance], vocab: Vocabulary, cfg: FeatureConfig,
                 with_frame_labels: bool = False, cache: FeatureCache | None = None) -> None:
        self.utterances = list(utterances)
        self.vocab = vocab
        self.cfg = cfg
        self.with_frame_labels = with_frame_labels
        self.cache = cache

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> Example:
        utt = self.utterances[index]
        wave = feats = None
        if self.cache is not None:
            feats = self.cache.features(utt)
            n_frames = len(feats)
        else:
            window = frame_params(self.cfg)[0]
            wave = utt.load(self.cfg.sample_rate, min_samples=window)
            n_frames = num_frames(len(wave), self.cfg)
        labels = None
        if self.with_frame_labels:
            labels = frame_labels(utt, n_frames, self.vocab, self.cfg)
        targets = torch.tensor(self.vocab.encode(utt.phones), dtype=torch.long)
        return Example(utt.id, wave, targets, labels, feats)


def collate(examples: list[Example]) -> Batch:
    pad = torch.nn.utils.rnn.pad_sequence
    labels = wave = wave_lengths = feats = feat_lengths = None
    if examples[0].frame_labels is not None:
        labels = pad([e.frame_labels for e in examples], batch_first=True, padding_value=IGNORE)
    if examples[0].feats is not None:
        feats = pad([e.feats for e in examples], batch_first=True)
        feat_lengths = torch.tensor([len(e.feats) for e in examples])
    else:
        wave = pad([e.wave for e in examples], batch_first=True)
        wave_lengths = torch.tensor([len(e.wave) for e in examples])
    return Batch(
        ids=[e.id for e in examples],
        wave=wave,
        wave_lengths=wave_lengths,
        targets=pad([e.targets for e in examples], batch_first=True),
        target_lengths=torch.tensor([len(e.targets) for e in examples]),
        frame_labels=labels,
        feats=feats,
        feat_lengths=feat_lengths,
    )


def round_up(frames: int, quantum: int) -> int:
    """``frames`` rounded up to a multiple of ``quantum``: the static length a batch is
    padded to (``length_quantum`` here, ``phonelstm.training.step.StaticShapes``)."""
    return -(-frames // quantum) * quantum


def utterance_frames(utterances: Sequence[Utterance], cfg: FeatureConfig) -> list[int]:
    """Frame count of each utterance, from the manifest's duration or the audio header."""
    counts = []
    for utt in utterances:
        if utt.duration is not None:
            samples = round(utt.duration * cfg.sample_rate)
        else:
            try:
                info = sf.info(utt.audio)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise AudioError(f"{utt.audio}: cannot read audio header ({err})") from None
            samples = round(info.frames * cfg.sample_rate / info.samplerate)
        counts.append(num_frames(samples, cfg))
    return counts


def check_ctc_fit(utterances: Sequence[Utterance], cfg: FeatureConfig, stack_frames: int,
                  where: str) -> None:
    """Every utterance has the output frames CTC needs for its phones at the model's frame
    rate (one per phone, and a blank between two equal phones); else one line naming it."""
    for utt, frames in zip(utterances, utterance_frames(utterances, cfg), strict=True):
        outputs = -(-frames // stack_frames)
        needed = len(utt.phones) + sum(a == b for a, b in zip(utt.phones[:-1], utt.phones[1:],
                                                                 strict=True))
        if outputs < needed:
            raise DataError(f"{where}: utterance {utt.id} is too short for its labels at "
                            f"model.stack_frames={stack_frames}: {outputs} output frames for "
                            f"{len(utt.phones)} phones (CTC needs {needed}); lower "
                            "model.stack_frames or leave the utterance out")


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar length, bounded by padded frames per batch, deterministic per epoch.

    Each epoch shuffles utterances with ``seed + epoch``, sorts them by length within
    buckets of ``bucket_width`` frames (so batch composition varies between epochs), packs
    batches while ``batch_size * longest <= max_frames`` and ``batch_size <= max_batch``,
    and shuffles the order of the batches.

    Data-parallel training (``num_replicas`` ranks): every rank computes the same global
    batches, each holding at least ``num_replicas`` utterances, and iterates over its shard
    of each, ``batch[rank::num_replicas]`` (neighbours in length, so shards pad alike).
    ``max_frames`` and ``max_batch`` therefore bound the global batch, whatever the number
    of ranks.

    Static shapes (``length_quantum > 1``): batches are packed by lengths rounded up to a
    multiple of ``length_quantum``, the length they are padded to (``phonelstm.training.step``).
    """

    def __init__(self, lengths: Sequence[int], max_frames: int, max_batch: int = 64,
                 shuffle: bool = True, seed: int = 0, bucket_width: int = 10,
                 num_replicas: int = 1, rank: int = 0, length_quantum: int = 1) -> None:
        if num_replicas > 1 and len(lengths) < num_replicas:
            raise DataError(f"{len(lengths)} utterances cannot be shared by {num_replicas} "
                            "processes: use fewer processes or more data")
        if max_batch < num_replicas:
            raise DataError(f"data.max_batch_size={max_batch} is smaller than the number of "
                            f"processes ({num_replicas}): each batch is split across them")
        self.lengths = list(lengths)
        self.padded_lengths = [round_up(n, length_quantum) for n in lengths]
        self.max_frames = max_frames
        self.max_batch = max_batch
        self.shuffle = shuffle
        self.seed = seed
        self.bucket_width = bucket_width
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = (torch.randperm(len(self.lengths), generator=generator).tolist()
                 if self.shuffle else list(range(len(self.lengths))))
        order.sort(key=lambda i: self.lengths[i] // self.bucket_width)
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order:
            candidate = max(longest, self.padded_lengths[i])
            if len(current) >= self.num_replicas and (
                    candidate * (len(current) + 1) > self.max_frames
                    or len(current) >= self.max_batch):
                batches.append(current)
                current, candidate = [], self.padded_lengths[i]
            current.append(i)
            longest = candidate
        if current:
            if len(current) < self.num_replicas:  # too few to share: join the previous batch
                current = batches.pop() + current
            batches.append(current)
        if self.shuffle:
            perm = torch.randperm(len(batches), generator=generator).tolist()
            batches = [batches[i] for i in perm]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return (batch[self.rank::self.num_replicas] for batch in self.batches())

    def __len__(self) -> int:
        return len(self.batches())

    def padding_waste(self) -> float:
        """Fraction of padded frames over all frames in this epoch's batches."""
        padded = real = 0
        for batch in self.batches():
            lengths = [self.lengths[i] for i in batch]
            padded += max(lengths) * len(lengths)
            real += sum(lengths)
        return 1 - real / padded if padded else 0.0
