"""Decoding output formats, each written atomically into an output folder.

- ``txt``: ``phones.txt``, one line ``<id> <phone> <phone> ...`` (what ``phonelstm-evaluate
  hyp=`` reads);
- ``json``: ``phones.jsonl``, one object per recording: ``id``, ``audio``, ``duration`` and
  ``phones``: ``[{"phone", "start", "end", "posterior"}, ...]``;
- ``ctm``: ``phones.ctm`` in NIST's format, ``<id> 1 <start> <duration> <phone> <posterior>``;
- ``textgrid``: ``textgrid/<id>.TextGrid``, a Praat TextGrid with a ``phones`` tier (praatio);
- ``posteriors``: per-frame log posteriors ``(T, C)`` float32 as ``posteriors.npz`` (one
  array per id) and Kaldi ``posteriors.ark``/``posteriors.scp`` (kaldiio), with
  ``posteriors.json`` giving the symbols (column order), frame shift and first frame centre.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import kaldiio
import numpy as np
from praatio import textgrid
from praatio.utilities.constants import Interval

from phonelstm.errors import PhonelstmError
from phonelstm.io import atomic_write, atomic_write_text
from phonelstm.recognizer import Result

FORMATS = ("txt", "json", "ctm", "textgrid", "posteriors")


class OutputError(PhonelstmError):
    """An output cannot be written: it exists (without ``overwrite=true``) or is read-only."""


def output_paths(out: Path, formats: Sequence[str], ids: Sequence[str]) -> list[Path]:
    """Every file the ``formats`` will write in ``out``."""
    names = {"txt": ["phones.txt"], "json": ["phones.jsonl"], "ctm": ["phones.ctm"],
             "posteriors": ["posteriors.npz", "posteriors.ark", "posteriors.scp",
                            "posteriors.json"],
             "textgrid": [f"textgrid/{i}.TextGrid" for i in ids]}
    return [out / name for fmt in formats for name in names[fmt]]


def check_outputs(out: Path, formats: Sequence[str], ids: Sequence[str], overwrite: bool) -> None:
    """Fail before any work if an output exists (unless ``overwrite``) or ``out`` is read-only."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise OutputError(f"format: unknown {unknown}; choose from {list(FORMATS)}")
    existing = [p for p in output_paths(out, formats, ids) if p.exists()]
    if existing and not overwrite:
        raise OutputError(f"{existing[0]} exists ({len(existing)} output file(s) in {out}); "
                          "set overwrite=true to replace them")
    check_writable(out)


def check_writable(out: Path) -> None:
    """Create ``out`` and check that files can be written into it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{out}: cannot create output folder ({err.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: output folder is not writable")


def write_txt(out: Path, results: Sequence[Result]) -> None:
    atomic_write_text(out / "phones.txt", "".join(
        " ".join([r.id, *(p.phone for p in r.phones)]) + "\n" for r in results))


def write_json(out: Path, results: Sequence[Result]) -> None:
    atomic_write_text(out / "phones.jsonl", "".join(json.dumps(
        {"id": r.id, "audio": r.audio, "duration": round(r.duration, 4),
         "phones": [asdict(p) for p in r.phones]}) + "\n" for r in results))


def write_ctm(out: Path, results: Sequence[Result]) -> None:
    atomic_write_text(out / "phones.ctm", "".join(
        f"{r.id} 1 {p.start:.3f} {p.end - p.start:.3f} {p.phone} {p.posterior:.4f}\n"
        for r in results for p in r.phones))


def write_textgrids(out: Path, results: Sequence[Result]) -> None:
    for r in results:
        entries = [Interval(p.start, p.end, p.phone) for p in r.phones if p.end > p.start]
        grid = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=r.duration)
        grid.addTier(textgrid.IntervalTier("phones", entries, 0.0, r.duration))
        with atomic_write(out / "textgrid" / f"{r.id}.TextGrid") as tmp:
            grid.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)


def write_posteriors(out: Path, results: Sequence[Result], symbols: Sequence[str],
                     frame_shift: float, first_centre: float) -> None:
    arrays = {r.id: r.log_posteriors for r in results}
    with atomic_write(out / "posteriors.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    # kaldiio writes the ark's path into the scp: write both to temp names, then fix the scp
    with atomic_write(out / "posteriors.ark") as ark, atomic_write(out / "posteriors.scp") as scp:
        kaldiio.save_ark(str(ark), arrays, scp=str(scp))
        final = str((out / "posteriors.ark").resolve())
        scp.write_text(scp.read_text().replace(str(ark), final))
    atomic_write_text(out / "posteriors.json", json.dumps(
        {"symbols": list(symbols), "log": True, "frame_shift": frame_shift,
         "first_frame_centre": first_centre}, indent=1) + "\n")


WRITERS: dict[str, Callable[..., None]] = {
    "txt": write_txt, "json": write_json, "ctm": write_ctm, "textgrid": write_textgrids}
