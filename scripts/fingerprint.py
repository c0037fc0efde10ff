"""Behaviour fingerprint of the toolkit, for restructurings that must change nothing.

Runs seeded CPU trainings through the entry points (a CTC demo-sized run, a tiny run on the
padded fast path, a tiny peephole run, a tiny framewise run), then decodes and evaluates
with the demo-sized model, and writes one JSON of digests: the trained weights, the lines
the commands print and every file decode and evaluate write (timings and paths left out).
Run it before and after a change and compare::

    python scripts/fingerprint.py --out before.json            # on the old code
    python scripts/fingerprint.py --out after.json --compare before.json

``--quick`` replaces the demo-sized run (``experiment=demo trainer.max_epochs=2``, about
6 minutes on 2 cores) by a tiny one. The synthetic corpus is prepared once under
``--data`` (default ``data/synth``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import torch

# what differs between runs of the same code: wall-clock times, folders, log time stamps
VOLATILE = re.compile(r"\d+(\.\d+)? ?(min|s|ms|h)\b|hours|device|/tmp/\S+|tensorboard")
LOG_PREFIX = re.compile(r"^\[[\d\- :,]+\]\[[\w.]+\]\[\w+\] - ")  # time, logger, level
TINY = ["debug=tiny", "trainer.max_epochs=2", "model.stack_frames=2"]
RUNS = {
    "demo": ["experiment=demo", "trainer.max_minutes=0", "trainer.max_epochs=2"],
    "fast": [*TINY, "trainer.fast=true", "trainer.static_frames=50"],
    "peephole": [*TINY, "model.peephole=true", "data.max_frames_per_batch=4000"],
    "framewise": ["debug=tiny", "trainer.max_epochs=1", "trainer.task=framewise",
                  "model=fw_blstm", "model.hidden=16", "features=mfcc26"],
}


WORK = "<work>"  # the --work folder, which differs between the runs compared


def clean(lines: list[str], work: Path) -> list[str]:
    """Log or output lines without log prefixes, durations and output folders."""
    return [VOLATILE.sub("*", LOG_PREFIX.sub("", line)).replace(str(work), WORK)
            for line in lines]


def run(args: list[str], cwd: Path, work: Path) -> list[str]:
    """Run a ``phonelstm.*`` module; its stdout lines, cleaned."""
    proc = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"fingerprint: {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return clean(proc.stdout.splitlines(), work)


def weights_digest(path: Path) -> str:
    state = torch.load(path, map_location="cpu", weights_only=False)["model"]
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


def files_digest(folder: Path, work: Path) -> dict[str, str]:
    """sha256 of each file under ``folder``; JSON files without volatile keys, text files with
    the work folder masked."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".txt":
            data = data.replace(str(work).encode(), WORK.encode())
        if path.suffix == ".json":
            row = json.loads(data)
            if isinstance(row, dict):
                row = {k: v for k, v in row.items() if not VOLATILE.fullmatch(k)
                       and k not in ("hours", "device", "seconds", "checkpoint")}
            data = json.dumps(row, sort_keys=True).encode()
        out[str(path.relative_to(folder))] = hashlib.sha256(data).hexdigest()
    return out


def fingerprint(work: Path, data_dir: Path, quick: bool, reuse: bool) -> dict:
    root = Path(__file__).resolve().parent.parent
    data = [f"data.dir={data_dir}"]
    result: dict = {}
    runs = dict(RUNS)
    if quick:
        runs["demo"] = [*TINY]
    for name, overrides in runs.items():
        out = work / name
        if not (reuse and (out / "results.json").is_file()):
            run(["phonelstm.train", *overrides, *data, f"out_dir={out}", "resume=false"], root,
                work)
        # train.log: what the command logs (epochs, dev and test PER), the last line printed
        log = [line for line in clean((out / "train.log").read_text().splitlines(), work)
               if "synth corpus" not in line]  # the first run also prepared the corpus
        result[name] = {"log": log, "best": weights_digest(out / "best.pt"),
                        "last": weights_digest(out / "last.pt"),
                        "results": files_digest(out, work)["results.json"]}
    model = work / "demo" / "best.pt"
    test = sorted(data_dir / json.loads(line)["audio"] for line in
                  (data_dir / "test.jsonl").read_text().splitlines()[:4])
    for index, audio in enumerate(test):
        out = work / f"decode{index}"
        run(["phonelstm.decode", f"checkpoint={model}", f"input={audio}", f"out={out}",
             "format=[txt,json,ctm,textgrid]", "device=cpu", "overwrite=true"], root, work)
        result[f"decode{index}"] = files_digest(out, work)
    run(["phonelstm.decode", f"checkpoint={model}", f"input={data_dir / 'test.jsonl'}",
         f"out={work / 'decode_beam'}", "format=[txt,ctm]", "beam=4", "device=cpu",
         "overwrite=true"], root, work)
    result["decode_beam"] = files_digest(work / "decode_beam", work)
    lines = run(["phonelstm.evaluate", f"checkpoint={model}", f"data={data_dir / 'test.jsonl'}",
                 f"out={work / 'evaluate'}", "device=cpu", "overwrite=true"], root, work)
    result["evaluate"] = {"stdout": lines, **{
        k: v for k, v in files_digest(work / "evaluate", work).items() if not k.endswith(".png")}}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON to write")
    parser.add_argument("--compare", type=Path, help="a fingerprint to compare against")
    parser.add_argument("--work", type=Path, default=Path("exp/fingerprint"))
    parser.add_argument("--data", type=Path, default=Path("data/synth"))
    parser.add_argument("--quick", action="store_true", help="a tiny run instead of the demo")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the trainings already in --work (fingerprint decode and "
                        "evaluate again)")
    args = parser.parse_args()
    result = fingerprint(args.work.resolve(), args.data.resolve(), args.quick, args.reuse)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        differ = sorted(k for k in before.keys() | result.keys()
                        if before.get(k) != result.get(k))
        for key in differ:
            print(f"differs: {key}\n  before: {before.get(key)}\n  after:  {result.get(key)}")
        print("identical" if not differ else f"{len(differ)} part(s) differ")
        raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
