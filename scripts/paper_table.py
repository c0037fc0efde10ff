"""Graves, Mohamed & Hinton (2013), "Speech recognition with deep recurrent neural networks",
Table 1: TIMIT core-test PER of the CTC networks, keyed by our ``conf/model`` preset.

The paper's networks use peephole LSTMs with one bias per gate and were trained with SGD
(lr 1e-4, momentum 0.9, per-utterance updates) and weight noise; PyTorch's LSTM has two
biases per gate and no peepholes, so our weight counts differ slightly.
"""

from __future__ import annotations

# preset: (paper's row name, weights in millions, training epochs, core-test PER %)
PAPER_TABLE1: dict[str, tuple[str, float, int, float]] = {
    "brnn_3x500": ("CTC-3l-500h-tanh", 3.7, 107, 37.6),
    "blstm_1x250": ("CTC-1l-250h", 0.8, 82, 23.9),
    "blstm_1x622": ("CTC-1l-622h", 3.8, 87, 23.0),
    "blstm_2x250": ("CTC-2l-250h", 2.3, 55, 21.0),
    "ulstm_3x421": ("CTC-3l-421h-uni", 3.8, 115, 19.6),
    "blstm_3x250": ("CTC-3l-250h", 3.8, 124, 18.6),
    "blstm_5x250": ("CTC-5l-250h", 6.8, 150, 18.4),
}
