"""``python -m phonelstm.pretrained``: the shipped model on the shipped recordings.

Prints, for each example, its reference phones, the recognised phones and their PER on the
39 folded phones; what ``make demo`` ends with.
"""

from __future__ import annotations

from phonelstm.metrics import count_errors
from phonelstm.phones import fold
from phonelstm.pretrained import EXAMPLES, MODEL, REFERENCES
from phonelstm.recognizer import Recognizer


def main() -> None:
    recognizer = Recognizer.from_pretrained(beam=16)
    print(f"shipped model {MODEL.name} on {EXAMPLES}:")
    for line in REFERENCES.read_text().splitlines():
        name, *ref = line.split()
        hyp = [p.phone for p in recognizer.transcribe(EXAMPLES / name)]
        errors = count_errors(fold(ref, 39), fold(hyp, 39))
        print(f"{name}\n  reference:  {' '.join(ref)}\n  recognised: {' '.join(hyp)}\n"
              f"  PER (39 phones): {errors.rate:.1f}%")


if __name__ == "__main__":
    main()
