"""The shipped English phone recogniser and two short free recordings to try it on.

``MODEL`` is ``recipes/free_english_ctc``'s best model, trained only on freely licensed
speech; ``MODEL_CARD.md`` beside it says on what, how well, and where it fails.
``Recognizer.from_pretrained()`` and ``phonelstm-decode input=<audio>`` (no ``checkpoint=``)
load it. ``python -m phonelstm.pretrained`` decodes ``EXAMPLES`` and prints each beside its
reference.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
MODEL = HERE / "free_english_ctc.pt"
EXAMPLES = HERE / "examples"
REFERENCES = EXAMPLES / "references.txt"  # "<file name> <phone> ..." per example
