"""The synthetic corpus builder: one worker process per speaker, a stamped cache, atomic replace.

``prepare_synth`` is the entry; the voices and sentences come from ``plan``, the audio from
``espeak``, the labels from ``labels``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from phonelstm.config import SynthConfig
from phonelstm.data.corpus import check_splits, write_splits
from phonelstm.data.manifest import SPLITS, Utterance
from phonelstm.data.synth import SynthError
from phonelstm.data.synth.espeak import Espeak
from phonelstm.data.synth.labels import label_utterance
from phonelstm.data.synth.plan import (
    VARIANTS,
    Speaker,
    harvard_sentences,
    plan_speakers,
    sentence_pools,
)

log = logging.getLogger(__name__)

# Bump when the output for an unchanged config changes (labelling rules, file layout, catalog).
FORMAT_VERSION = 2
STAMP_NAME = ".complete"

_LEAD_SILENCE_S = (0.05, 0.25)  # eSpeak starts speaking after ~12 ms; TIMIT h# is longer
_TRAIL_SILENCE_S = (0.02, 0.1)  # added to eSpeak's sentence pause


@dataclass(frozen=True)
class _Job:
    speaker: Speaker
    catalog_index: int
    sentences: tuple[tuple[int, str], ...]  # (index in the Harvard list, text)
    out_dir: str
    seed: int
    sample_rate: int
    noise_std: float


def _synth_speaker(job: _Job) -> list[Utterance]:
    """Synthesise, label and write one speaker's utterances (in a fresh worker process)."""
    engine = Espeak(seed=job.seed * len(VARIANTS) + job.catalog_index)
    speaker = job.speaker
    engine.set_voice(speaker.voice, speaker.rate, speaker.pitch, speaker.pitch_range)
    speaker_dir = Path(job.out_dir) / "wav" / job.speaker.name
    speaker_dir.mkdir(parents=True, exist_ok=True)
    utterances = []
    for index, text in job.sentences:
        raw, events = engine.synth(text)
        rng = np.random.default_rng([job.seed, job.catalog_index, index])
        lead = round(rng.uniform(*_LEAD_SILENCE_S) * engine.sample_rate)
        trail = round(rng.uniform(*_TRAIL_SILENCE_S) * engine.sample_rate)
        raw = np.concatenate([np.zeros(lead, np.int16), raw, np.zeros(trail, np.int16)])
        events = [(name, sample + lead) for name, sample in events]
        segments = label_utterance(events, raw, job.speaker.accent)

        # soxr is librosa's resampler (res_type="soxr_hq"); called directly because the first
        # librosa.resample in a process imports scipy and numba, seconds in every fresh worker.
        audio = soxr.resample(
            raw.astype(np.float32) / 32768.0, engine.sample_rate, job.sample_rate, quality="HQ"
        )
        audio = audio + rng.normal(0.0, job.noise_std, len(audio)).astype(np.float32)
        audio = np.clip(audio, -1.0, 32767 / 32768)
        n = len(audio)
        scale = job.sample_rate / engine.sample_rate
        bounds = [min(round(start * scale), n) for _, start, _ in segments] + [n]
        if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise SynthError(f"a phone vanished when resampling {job.speaker.name} h{index + 1}")

        utt_id = f"{job.speaker.name}_h{index + 1:03d}"
        wav_path = speaker_dir / f"{utt_id}.wav"
        sf.write(wav_path, audio, job.sample_rate, subtype="PCM_16")
        labels = [label for label, _, _ in segments]
        phn = "".join(
            f"{a} {b} {label}\n" for label, a, b in zip(labels, bounds, bounds[1:], strict=False)
        )
        wav_path.with_suffix(".phn").write_text(phn, encoding="utf-8")
        utterances.append(
            Utterance(
                id=utt_id,
                audio=str(wav_path),
                speaker=job.speaker.name,
                phones=labels,
                segments=[
                    (a / job.sample_rate, b / job.sample_rate)
                    for a, b in zip(bounds, bounds[1:], strict=False)
                ],
                duration=n / job.sample_rate,
                extra={"text": text, "voice": job.speaker.voice},
            )
        )
    return utterances


def _cache_key(cfg: SynthConfig) -> str:
    """Hash of everything that shapes the corpus; the worker count does not. ``accents`` is
    left out at its default (empty), so corpora built before it existed stay valid."""
    fields = {k: v for k, v in asdict(cfg).items()
              if k != "workers" and not (k == "accents" and not v)}
    blob = json.dumps(
        {
            "format": FORMAT_VERSION,
            "config": fields,
            "espeakng_loader": metadata.version("espeakng-loader"),
            "sentences": hashlib.sha256("\n".join(harvard_sentences()).encode()).hexdigest(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _inventory(root: Path) -> dict[str, int]:
    """Count and total size of the corpus files: a missing or truncated file changes them."""
    files = [*root.glob("*.jsonl"), *root.glob("wav/*/*.wav"), *root.glob("wav/*/*.phn")]
    return {"files": len(files), "bytes": sum(f.stat().st_size for f in files)}


def _stamp(root: Path, key: str) -> str:
    return json.dumps({"key": key, **_inventory(root)}, sort_keys=True) + "\n"


def _cache_is_complete(out_dir: Path, key: str) -> bool:
    stamp = out_dir / STAMP_NAME
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == _stamp(out_dir, key)


def _validate(cfg: SynthConfig, n_sentences: int) -> None:
    if not 2 <= cfg.eval_sentences <= n_sentences // 2:
        raise SynthError(f"data.synth.eval_sentences must be in 2..{n_sentences // 2}, "
                         f"got {cfg.eval_sentences}")
    limits = {"sentences_per_train_voice": n_sentences - cfg.eval_sentences // 2 * 2,
              "sentences_per_eval_voice": cfg.eval_sentences // 2}
    for name, limit in limits.items():
        value = getattr(cfg, name)
        if not 1 <= value <= limit:
            raise SynthError(f"data.synth.{name} must be in 1..{limit}, got {value}")
    if cfg.sample_rate < 8000:
        raise SynthError(f"data.synth.sample_rate must be >= 8000, got {cfg.sample_rate}")
    if cfg.noise_std < 0:
        raise SynthError(f"data.synth.noise_std must be >= 0, got {cfg.noise_std}")
    if cfg.workers < 1:
        raise SynthError(f"data.synth.workers must be >= 1, got {cfg.workers}")


def _jobs(cfg: SynthConfig, plan: dict[str, list[Speaker]], tmp: Path) -> dict[str, list[_Job]]:
    sentences = harvard_sentences()
    pools = sentence_pools(cfg, len(sentences))
    jobs: dict[str, list[_Job]] = {}
    for split, speakers in plan.items():
        per_voice = (
            cfg.sentences_per_train_voice if split == "train" else cfg.sentences_per_eval_voice
        )
        pool = pools[split]
        jobs[split] = []
        for speaker in speakers:
            index = VARIANTS.index(speaker.variant)  # the catalog index
            # Stream 720 is apart from the per-utterance ones, keyed by sentence index 0..719.
            rng = np.random.default_rng([cfg.seed, index, len(sentences)])
            chosen = sorted(pool[i] for i in rng.choice(len(pool), per_voice, replace=False))
            jobs[split].append(
                _Job(
                    speaker=speaker,
                    catalog_index=index,
                    sentences=tuple((i, sentences[i]) for i in chosen),
                    out_dir=str(tmp),
                    seed=cfg.seed,
                    sample_rate=cfg.sample_rate,
                    noise_std=cfg.noise_std,
                )
            )
    return jobs


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Put the finished ``tmp`` at ``out_dir``, removing an old corpus there."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        out_dir.rename(old / out_dir.name)
        tmp.rename(out_dir)
        shutil.rmtree(old)
    else:
        tmp.rename(out_dir)


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit`` while the corpus is built, so the cleanup runs.

    SIGTERM's default action (``kill``, a job scheduler) ends the process at once: the temporary
    folder stays behind and the workers run on. Raised in the main process instead, it leaves
    the pool (which terminates the workers) and removes the folder; the exit status is 143 as
    for a plain SIGTERM. A second SIGTERM does not interrupt that cleanup.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def prepare_synth(cfg: SynthConfig, out_dir: str | Path, force: bool = False) -> Path:
    """Build (or reuse) the synthetic corpus in ``out_dir``; returns ``out_dir``.

    A corpus is reused only when its stamp (``.complete``: config hash, file count and bytes)
    matches; otherwise it is rebuilt in a temporary folder beside ``out_dir`` and moved in; an
    error, Ctrl-C or SIGTERM removes that folder. Synthesis runs in worker processes, so
    scripts must call this under ``if __name__ == "__main__":``.
    """
    out_dir = Path(out_dir).resolve()
    key = _cache_key(cfg)
    if not force and _cache_is_complete(out_dir, key):
        log.info("synth corpus up to date in %s", out_dir)
        return out_dir

    _validate(cfg, len(harvard_sentences()))
    plan = plan_speakers(cfg)
    began = time.perf_counter()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_exits():
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
        try:
            jobs = _jobs(cfg, plan, tmp)
            ordered = sorted(
                (job for split_jobs in jobs.values() for job in split_jobs),
                key=lambda job: -len(job.sentences),  # long jobs first balances the workers
            )
            # eSpeak keeps state that even espeak_Terminate does not reset, so each speaker gets a
            # fresh process (maxtasksperchild=1) forked from a server that never loaded eSpeak.
            # The server imports the main module once, so each fork does not re-import it.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["__main__", __name__])
            done: dict[str, list[Utterance]] = {}
            total = sum(len(job.sentences) for job in ordered)
            with (
                context.Pool(min(cfg.workers, len(ordered)), maxtasksperchild=1) as pool,
                tqdm(total=total, desc="synth", unit="utt", disable=None) as progress,
            ):
                for utterances in pool.imap_unordered(_synth_speaker, ordered):
                    done[utterances[0].speaker] = utterances
                    progress.update(len(utterances))

            splits = {s: [u for job in jobs[s] for u in done[job.speaker.name]] for s in SPLITS}
            check_splits(splits, f"synth corpus {out_dir}")
            write_splits(tmp, splits)
            (tmp / STAMP_NAME).write_text(_stamp(tmp, key), encoding="utf-8")
            _replace_dir(tmp, out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    hours = sum(u.duration or 0.0 for us in done.values() for u in us) / 3600
    counts = {split: sum(len(job.sentences) for job in jobs[split]) for split in SPLITS}
    log.info(
        "synth corpus: %.2f h in %.1f s; utterances %s; speakers %s -> %s",
        hours,
        time.perf_counter() - began,
        "/".join(f"{s} {counts[s]}" for s in SPLITS),
        "/".join(f"{s} {len(plan[s])}" for s in SPLITS),
        out_dir,
    )
    return out_dir
