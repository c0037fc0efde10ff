"""The persistent Triton LSTM against nn.LSTM, on CPU through Triton's interpreter."""

import os
import subprocess
import sys

import pytest

CHECK = """
import torch
from torch import nn
from phonelstm.persistent_lstm import lstm_layer
torch.manual_seed(0)
for bidirectional, batch in ((False, 3), (True, 3), (True, 40)):  # 40: 3 blocks of rows
    rnn = nn.LSTM(7, 20, 1, bidirectional=bidirectional, batch_first=True)
    x = torch.randn(batch, 6, 7, requires_grad=True)
    ref = rnn(x)[0]
    g = torch.randn_like(ref)
    ref_grads = torch.autograd.grad((ref * g).sum(), [x, *rnn._flat_weights])
    both = torch.stack([x, x.flip(1)]) if bidirectional else x[None]
    # 32 units per program: one program per direction, as the interpreter runs programs
    # one after another and would wait forever at the step barrier for a second one
    h = lstm_layer(both, list(rnn._flat_weights), rows=16, units=32)
    out = torch.cat([h[0], h[1].flip(1)], -1) if bidirectional else h[0]
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    grads = torch.autograd.grad((out * g).sum(), [x, *rnn._flat_weights])
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
print("ok")
"""


def test_persistent_lstm_equals_nn_lstm_in_outputs_and_gradients():
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]
