"""A peer baseline: CMU PocketSphinx's phone recogniser on a manifest, in TIMIT-61 for scoring.

    pip install 'phonelstm[peer]'      # pocketsphinx 5 (BSD); its en-us model ships in the wheel
    python scripts/pocketsphinx_phones.py data/timit_sample_eval/test.jsonl --out ps_timit
    phonelstm-evaluate hyp=ps_timit/hyp.txt ref=ps_timit/ref.txt out=ps_timit/report

PocketSphinx decodes in allphone mode with its phone language model (``en-us-phone.lm.bin``,
language weight ``--lw``, wide beams), the audio read as phonelstm reads it (any format, span
and channel, 16 kHz). Its ARPAbet phones become TIMIT-61 as the lexicon writes canonical
phones (``phonelstm.data.lexicon``: the shipped ARPAbet map, a closure before each stop and
affricate but not after silence); silence and fillers (``SIL``, ``+NOISE+``, ...) are ``h#``.
On the 64 TIMIT-sample utterances that closure rule takes its PER from 45.7% to 44.9%.
Writes ``hyp.txt`` (one ``<id> <phone> ...`` line per utterance) and ``ref.txt`` (the
manifest's phones) to ``--out``, atomically; ``phonelstm-evaluate hyp= ref=`` scores them
like any model's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from phonelstm.data.lexicon import CLOSURES, LexiconError, arpabet_token
from phonelstm.data.manifest import read_manifest
from phonelstm.errors import PhonelstmError
from phonelstm.io import atomic_write_text

SAMPLE_RATE = 16000


def decoder(language_weight: float):
    """PocketSphinx's en-us acoustic model in allphone mode, or a one-line exit without it."""
    try:
        from pocketsphinx import Config, Decoder, get_model_path
    except ImportError:
        sys.exit("pocketsphinx is not installed: pip install 'phonelstm[peer]'")
    model = Path(get_model_path()) / "en-us"
    config = Config(hmm=str(model / "en-us"), allphone=str(model / "en-us-phone.lm.bin"),
                    lw=language_weight, beam=1e-20, pbeam=1e-20, loglevel="FATAL")
    return Decoder(config)


def to_timit(symbols: list[str], where: str) -> list[str]:
    """PocketSphinx phone symbols -> TIMIT-61: closures added, silences and fillers ``h#``."""
    phones = ["h#"]
    for symbol in symbols:
        if symbol == "SIL" or symbol.startswith(("+", "<", "[")):
            if phones[-1] != "h#":
                phones.append("h#")
            continue
        phone, _ = arpabet_token(symbol, where)
        if phone in CLOSURES and phones[-1] != "h#":  # after silence the closure is silence
            phones.append(CLOSURES[phone])
        phones.append(phone)
    return phones if phones[-1] == "h#" else phones + ["h#"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, help="a manifest (.jsonl) with reference phones")
    parser.add_argument("--out", type=Path, required=True, help="folder for hyp.txt and ref.txt")
    parser.add_argument("--lw", type=float, default=2.0, help="phone language model weight")
    args = parser.parse_args()
    try:
        utts = read_manifest(args.manifest)
        ps = decoder(args.lw)
        hyps, refs = [], []
        start = time.perf_counter()
        audio_seconds = 0.0
        for utt in utts:
            wave = utt.load(SAMPLE_RATE).numpy()  # (N,) float32 in [-1, 1]
            audio_seconds += len(wave) / SAMPLE_RATE
            pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
            ps.start_utt()
            ps.process_raw(pcm, full_utt=True)
            ps.end_utt()
            symbols = [seg.word for seg in ps.seg()]
            hyps.append(f"{utt.id} {' '.join(to_timit(symbols, utt.audio))}")
            refs.append(f"{utt.id} {' '.join(utt.phones)}")
        seconds = time.perf_counter() - start
    except (PhonelstmError, LexiconError) as err:
        sys.exit(f"pocketsphinx_phones: error: {err}")
    os.makedirs(args.out, exist_ok=True)
    atomic_write_text(args.out / "hyp.txt", "\n".join(hyps) + "\n")
    atomic_write_text(args.out / "ref.txt", "\n".join(refs) + "\n")
    print(f"pocketsphinx: {len(utts)} utterances, {audio_seconds:.1f} s of audio in "
          f"{seconds:.1f} s ({seconds / audio_seconds:.3f} x real time); wrote "
          f"{args.out}/hyp.txt and ref.txt")


if __name__ == "__main__":
    main()
