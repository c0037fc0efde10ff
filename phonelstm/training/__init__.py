"""The training engine behind ``phonelstm-train``, split as icefall's recipes split train.py.

``loop`` (``train``, ``train_one_epoch``) reads top to bottom and calls the rest: ``options``
(checks of ``trainer.*``, optimiser and schedule), ``step`` (the one training step, eager or
CUDA-graphed), ``validate`` (feature statistics, dev scoring, final evaluation), ``state``
(progress, RNG, checkpoints, resume) and ``distributed`` (``torchrun`` ranks).
"""
