"""``phonelstm-decode checkpoint=<ckpt> input=<file|dir|manifest.jsonl|glob> out=<dir>``.

Recognises (or, with ``align=true`` / ``transcript=``, force-aligns) every recording, in
batches of similar length, and writes the formats of ``phonelstm.writers``. Without ``out``
the phones and times are printed. Unreadable audio files are skipped and listed; the
command then fails unless ``continue_on_error=true``. Without ``checkpoint=`` the shipped
English model (``phonelstm.pretrained``) decodes.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from phonelstm import cli, pretrained
from phonelstm.config import DecodeConfig, to_dataclass
from phonelstm.device import resolve_device
from phonelstm.recognizer import Recognizer
from phonelstm.recordings import (
    attach_transcripts,
    gather_inputs,
    report_failures,
    require_transcripts,
)
from phonelstm.writers import WRITERS, check_outputs, write_posteriors


def formats_of(cfg: DecodeConfig) -> list[str]:
    return [cfg.format] if isinstance(cfg.format, str) else list(cfg.format)


def decode(cfg: DecodeConfig) -> None:
    formats = formats_of(cfg)
    utts = gather_inputs(cfg.input)
    align = cfg.align or cfg.transcript is not None
    if cfg.transcript is not None:
        attach_transcripts(utts, cfg.transcript)
    if align:
        require_transcripts(utts)
    out = Path(cfg.out) if cfg.out else None
    if out is not None:
        check_outputs(out, formats, [u.id for u in utts], cfg.overwrite)
    recognizer = Recognizer.from_checkpoint(cfg.checkpoint or pretrained.MODEL,
                                            str(resolve_device(cfg.device)), cfg.beam,
                                            cfg.chunk_seconds, cfg.context_seconds)
    began = time.perf_counter()
    results, failed = recognizer.decode_utterances(utts, align, cfg.batch_seconds,
                                                   keep_posteriors="posteriors" in formats)
    elapsed = time.perf_counter() - began
    if out is None:
        for r in results:
            print(r.id, " ".join(p.phone for p in r.phones))
            for p in r.phones:
                print(f"{p.start:.3f}\t{p.end:.3f}\t{p.phone}\t{p.posterior:.3f}")
    elif results:  # nothing decoded: nothing written, so a rerun needs no overwrite=true
        for fmt in formats:
            if fmt == "posteriors":
                write_posteriors(out, results, recognizer.vocab.symbols,
                                 recognizer.frame_seconds, recognizer.frame_centre(0))
            else:
                WRITERS[fmt](out, results)
        audio = sum(r.duration for r in results)
        print(f"decoded {len(results)} recording(s), {audio:.1f} s of audio in {elapsed:.1f} s "
              f"({'forced alignment' if align else recognizer.task}); wrote "
              f"{', '.join(formats)} to {out}")
    report_failures(failed, len(utts), cfg.continue_on_error)


@hydra.main(version_base="1.3", config_path=cli.CONF_DIR, config_name="decode")
def _hydra_main(cfg: DictConfig) -> None:
    cli.report_errors("phonelstm-decode", lambda: decode(to_dataclass(DecodeConfig, cfg)))


def main() -> None:
    cli.run("phonelstm-decode", "decode", _hydra_main)


if __name__ == "__main__":
    main()
