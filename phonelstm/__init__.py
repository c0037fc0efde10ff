"""phonelstm: phoneme recognition with deep bidirectional LSTMs."""

__version__ = "0.1.0"
