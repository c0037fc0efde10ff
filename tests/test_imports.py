"""Decoding loads no training machinery: no training engine, no TensorBoard."""

import subprocess
import sys

import pytest

TRAINING = ("phonelstm.train", "phonelstm.training", "torch.utils.tensorboard")


@pytest.mark.parametrize("module", ["phonelstm.decode", "phonelstm.evaluate",
                                    "phonelstm.recognizer"])
def test_decoding_modules_import_without_training(module):
    code = (f"import sys, {module}\n"
            f"print(sorted(m for m in sys.modules for p in {TRAINING!r} "
            f"if m == p or m.startswith(p + '.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"{module} imports {out}"
