"""Free Spoken Digit Dataset: ``{digit}_{speaker}_{index}.wav`` -> digit words in TIMIT phones.

Speaker and digit come from the file name; the digit word becomes TIMIT-61 phones through
``phonelstm.data.lexicon`` (``data.lexicon``: CMUdict's first pronunciation, ``h#`` at both ends
for the silence around each recording, no closure right after it: "two" is
``h# t uw h#``). There are no phone times, so FSDD trains CTC models only. The 8 kHz audio is
resampled when it is loaded. Splits are speaker-disjoint, from
``data.fsdd.{train,dev,test}_speakers``.
"""

from __future__ import annotations

import re

import soundfile as sf

from phonelstm.config import FsddConfig, LexiconConfig
from phonelstm.data.corpus import DataError, check_root, split_by_config
from phonelstm.data.lexicon import Lexicon
from phonelstm.data.manifest import Utterance

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


def digit_lexicon(cfg: LexiconConfig | None = None) -> dict[str, tuple[str, list[list[str]]]]:
    """Digit -> (word, every pronunciation's TIMIT-61 phones with the h# at both ends; the
    first is the one FSDD's labels use)."""
    lexicon = Lexicon(cfg or LexiconConfig())
    return {str(digit): (word, [lexicon.phones([pron])
                                for pron in lexicon.variants(word, "digit words")])
            for digit, word in enumerate(WORDS)}


def prepare_fsdd(cfg: FsddConfig, lexicon_cfg: LexiconConfig, root: str | None) -> dict:
    """Read ``root`` (the FSDD folder or its ``recordings/``) into speaker-disjoint splits."""
    path = check_root(root, "fsdd")
    lexicon = digit_lexicon(lexicon_cfg)
    utts = []
    for wav in sorted(path.rglob("*.wav")):
        match = _NAME.match(wav.name)
        if not match:
            continue
        digit, speaker, index = match.groups()
        word, prons = lexicon[digit]
        try:
            info = sf.info(str(wav))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise DataError(f"{wav}: cannot read audio header ({err})") from None
        utts.append(Utterance(id=f"{speaker}_{digit}_{index}", audio=str(wav), speaker=speaker,
                              phones=list(prons[0]), duration=info.frames / info.samplerate,
                              extra={"text": word, "digit": digit}))
    if not utts:
        raise DataError(f"data.root={root}: no FSDD recordings "
                        "({digit}_{speaker}_{index}.wav)")
    lists = {"train": cfg.train_speakers, "dev": cfg.dev_speakers, "test": cfg.test_speakers}
    return split_by_config(utts, lists, "data.fsdd", root)
