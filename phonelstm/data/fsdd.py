"""Free Spoken Digit Dataset: ``{digit}_{speaker}_{index}.wav`` -> digit words in TIMIT phones.

Speaker and digit come from the file name; the digit word is transcribed with the shipped
lexicon ``phonelstm/resources/digits.dict`` (CMUdict pronunciations written in TIMIT-61:
stress removed, unstressed AH as ``ax``, every stop as closure + release as in TIMIT's
``.phn`` files, and ``h#`` at both ends for the silence around each recording). There are no
phone times, so FSDD trains CTC models only. The 8 kHz audio is resampled when it is loaded.
Splits are speaker-disjoint, from ``data.fsdd.{train,dev,test}_speakers``.
"""

from __future__ import annotations

import re
from functools import cache

import soundfile as sf

from phonelstm.config import FsddConfig
from phonelstm.data.corpus import (
    DataError,
    check_root,
    read_list,
    split_by_config,
)
from phonelstm.data.manifest import Utterance

LEXICON = "digits.dict"
_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


@cache
def digit_lexicon() -> dict[str, tuple[str, list[str]]]:
    """Digit -> (word, TIMIT-61 phones including the h# at both ends)."""
    lexicon = {}
    for line in read_list(LEXICON):
        digit, word, *phones = line.split()
        lexicon[digit] = (word, phones)
    return lexicon


def prepare_fsdd(cfg: FsddConfig, root: str | None) -> dict:
    """Read ``root`` (the FSDD folder or its ``recordings/``) into speaker-disjoint splits."""
    path = check_root(root, "fsdd")
    lexicon = digit_lexicon()
    utts = []
    for wav in sorted(path.rglob("*.wav")):
        match = _NAME.match(wav.name)
        if not match:
            continue
        digit, speaker, index = match.groups()
        word, phones = lexicon[digit]
        try:
            info = sf.info(str(wav))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise DataError(f"{wav}: cannot read audio header ({err})") from None
        utts.append(Utterance(id=f"{speaker}_{digit}_{index}", audio=str(wav), speaker=speaker,
                              phones=list(phones), duration=info.frames / info.samplerate,
                              extra={"text": word, "digit": digit}))
    if not utts:
        raise DataError(f"data.root={root}: no FSDD recordings "
                        "({digit}_{speaker}_{index}.wav)")
    lists = {"train": cfg.train_speakers, "dev": cfg.dev_speakers, "test": cfg.test_speakers}
    return split_by_config(utts, lists, "data.fsdd", root)
