"""speechocean762 (Zhang et al., Interspeech 2021; OpenSLR 101): non-native read English.

250 speakers whose first language is Mandarin, adults and children, read English sentences.
The release (``speechocean762.tar.gz``) has Kaldi data folders ``train/`` and ``test/`` (125
speakers each: ``wav.scp``, ``text``, ``utt2spk``, ``spk2age``, ``spk2gender``),
``resource/text-phone`` and 16 kHz WAV audio under ``WAVE/``; copies that hold only
``train/`` or FLAC audio are read the same way (``wav.scp`` paths are relative to the corpus
folder). Without ``data.root``, a copy in ``<data.dir>/download/speechocean762`` is used, or
the release is downloaded there (``phonelstm.data.download``).

Phones: ``resource/text-phone`` gives the canonical ARPAbet phones of each word (``<utt>.<word
index>``, stress digits and ``_B/_I/_E/_S`` word-position suffixes). They are what the text
says, not what each learner said. Into TIMIT-61, as TIMIT writes its transcriptions:
- the suffix is dropped and the symbol mapped with the shipped ARPAbet map (its stress rule:
  ``AH0`` -> ``ax``, ``ER0`` -> ``axr``, any other stress digit dropped: ``EY1`` -> ``ey``);
- except in one-vowel words: this corpus's lexicon writes the vowel of every one-vowel word
  with stress 0 (``ONE`` = ``W AH0 N``, ``WORK`` = ``W ER0 K``, where CMUdict has ``AH1``,
  ``ER1``), so there the digit is ignored (``ah``, ``er``), but for ``A`` and ``THE``, which
  CMUdict and TIMIT reduce (``ax``);
- each stop and affricate gets its closure: ``b d g p t k`` -> ``bcl b``, ``dcl d``, ``gcl g``,
  ``pcl p``, ``tcl t``, ``kcl k``; ``ch`` -> ``tcl ch``; ``jh`` -> ``dcl jh``;
- ``h#`` at both ends for the silence around the sentence.
``WE CALL IT BEAR`` (``W IY0 | K AO0 L | IH0 T | B EH0 R``) becomes
``h# w iy kcl k ao l ih tcl t bcl b eh r h#``. The lexicon is partly British (``NOT`` =
``N AH0 T``, ``HERE`` = ``HH IH AH0``); those phones are kept as it writes them. With
``data.speechocean762.phones=lexicon`` the text is pronounced by ``phonelstm.data.lexicon``
instead (American CMUdict, flapping and reductions), as LibriSpeech's is.

Splits: dev speakers are drawn from ``train/`` (seeded, in proportion to the age groups and
genders, so dev holds children and adults, women and men); test is the release's ``test/``,
or, in a copy without it, another such draw from ``train/``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from phonelstm.config import AlignedConfig, LexiconConfig, Speechocean762Config
from phonelstm.data.aligned import PhoneMap, audio_duration
from phonelstm.data.corpus import DataError, check_root, check_splits, draw_held_out
from phonelstm.data.download import download_corpus
from phonelstm.data.lexicon import CLOSURES, Lexicon, words_of
from phonelstm.data.manifest import Utterance

log = logging.getLogger("phonelstm.data")

NAME = "speechocean762"
REDUCED_WORDS = frozenset({"A", "THE"})
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW",
                    "OY", "UH", "UW"})
_SUFFIX = re.compile(r"_[BIES]$")
_HALF_FILES = "wav.scp, text, utt2spk, spk2age, spk2gender"

Table = dict[str, tuple[int, str]]  # key -> (line number, rest of the line)


def read_table(path: Path) -> Table:
    """A Kaldi table: ``<key> <value>`` lines (tab or space separated)."""
    if not path.is_file():
        raise DataError(f"{path}: not found (a speechocean762 data folder holds {_HALF_FILES})")
    table: Table = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.split(maxsplit=1)
            if len(fields) != 2:
                raise DataError(f"{path}:{lineno}: expected '<key> <value>', got {line.strip()!r}")
            if fields[0] in table:
                raise DataError(f"{path}:{lineno}: {fields[0]} is listed twice")
            table[fields[0]] = (lineno, fields[1].strip())
    return table


def word_phones(word: str, symbols: list[str], phone_map: PhoneMap, where: str) -> list[str]:
    """One word's text-phone symbols in TIMIT-61 (see the module docstring)."""
    bases = [_SUFFIX.sub("", s) for s in symbols]
    vowels = sum(b.rstrip("012") in VOWELS for b in bases)
    ignore_stress = vowels == 1 and word not in REDUCED_WORDS
    phones = []
    for base in bases:
        phone = phone_map.phone(base.rstrip("012") if ignore_stress else base, where)
        if phone in CLOSURES:
            phones.append(CLOSURES[phone])
        phones.append(phone)
    return phones


def sentence_phones(utt: str, words: list[str], text_phone: Table, path: Path,
                    phone_map: PhoneMap, where: str) -> list[str]:
    """The utterance's phones, word by word from ``text_phone`` (read from ``path``)."""
    phones = ["h#"]
    for index, word in enumerate(words):
        key = f"{utt}.{index}"
        if key not in text_phone:
            raise DataError(f"{path}: no entry {key} for word {index} ({word}) of utterance "
                            f"{utt} ({where})")
        lineno, symbols = text_phone[key]
        phones += word_phones(word, symbols.split(), phone_map, f"{path}:{lineno}")
    return phones + ["h#"]


def _speaker_info(folder: Path) -> dict[str, tuple[int, str]]:
    """Speaker -> (age, gender) from ``spk2age`` and ``spk2gender``."""
    ages, genders = read_table(folder / "spk2age"), read_table(folder / "spk2gender")
    info = {}
    for speaker, (lineno, age) in ages.items():
        if not age.isdigit():
            raise DataError(f"{folder / 'spk2age'}:{lineno}: age {age!r} of speaker {speaker} "
                            "is not a whole number")
        if speaker not in genders:
            raise DataError(f"{folder / 'spk2gender'}: no gender for speaker {speaker}")
        gender_line, gender = genders[speaker]
        if gender.lower() not in ("f", "m"):
            raise DataError(f"{folder / 'spk2gender'}:{gender_line}: gender {gender!r} of "
                            f"speaker {speaker} is not f or m")
        info[speaker] = (int(age), gender.lower())
    return info


def read_half(root: Path, half: str, text_phone: Table, text_phone_path: Path,
              phone_map: PhoneMap, lexicon: Lexicon | None = None) -> list[Utterance]:
    """The utterances of ``root/half`` (``train`` or ``test``) with phones and durations: the
    canonical phones of ``text_phone``, or the ``lexicon``'s when given."""
    folder = root / half
    scp = folder / "wav.scp"
    wavs, texts = read_table(scp), read_table(folder / "text")
    utt2spk, speakers = read_table(folder / "utt2spk"), _speaker_info(folder)
    utts = []
    for utt, (lineno, relative) in wavs.items():
        where = f"{scp}:{lineno}"
        if utt not in texts:
            raise DataError(f"{folder / 'text'}: no text for utterance {utt} (in {where})")
        if utt not in utt2spk:
            raise DataError(f"{folder / 'utt2spk'}: no speaker for utterance {utt} (in {where})")
        speaker = utt2spk[utt][1]
        if speaker not in speakers:
            raise DataError(f"{folder / 'spk2age'}: no age for speaker {speaker} (utterance "
                            f"{utt})")
        words = texts[utt][1].split()
        text_line = f"{folder / 'text'}:{texts[utt][0]}"
        phones = (lexicon.sentence(words_of(" ".join(words)), text_line) if lexicon else
                  sentence_phones(utt, words, text_phone, text_phone_path, phone_map, text_line))
        audio = root / relative
        age, gender = speakers[speaker]
        utts.append(Utterance(id=utt, audio=str(audio), speaker=speaker, phones=phones,
                              duration=audio_duration(audio, where),
                              extra={"text": " ".join(words), "age": age, "gender": gender}))
    if not utts:
        raise DataError(f"{scp}: no utterances")
    return utts


def draw_speakers(utts: list[Utterance], cfg: Speechocean762Config,
                  with_test: bool) -> tuple[list[str], list[str]]:
    """Dev speakers (and test speakers when ``with_test``) drawn from the training half."""
    group_of = {u.speaker: ("child" if u.extra["age"] < cfg.child_age else "adult",
                            u.extra["gender"]) for u in utts}
    return draw_held_out(group_of, cfg.seed, cfg.dev_speakers,
                         cfg.test_speakers if with_test else 0, f"data.{NAME}")


def find_corpus(root: str | None, out: Path, cfg: Speechocean762Config) -> Path:
    """``data.root``, else the copy under ``<data.dir>/download/``, else a fresh download."""
    if root:
        path = check_root(root, NAME)
        return path / NAME if (path / NAME / "train").is_dir() else path
    copy = out / "download" / NAME
    if copy.is_dir():
        return copy
    log.info("data.root is not set and %s does not exist: downloading the release", copy)
    return download_corpus(cfg.url, copy, NAME, cfg.sha256, cfg.archive_bytes)


def prepare_speechocean762(cfg: Speechocean762Config, root: str | None, out: Path,
                           lexicon_cfg: LexiconConfig | None = None) -> dict:
    """Read the corpus (downloading it when needed) into speaker-disjoint train/dev/test."""
    path = find_corpus(root, out, cfg)
    text_phone_path = path / "resource" / "text-phone"
    if not (path / "train" / "wav.scp").is_file():
        raise DataError(f"{path / 'train' / 'wav.scp'}: not found (data.root must be a "
                        "speechocean762 folder: train/, resource/, WAVE/)")
    if not text_phone_path.is_file():
        raise DataError(f"{text_phone_path}: not found (the canonical phones of each word)")
    text_phone = read_table(text_phone_path)
    phone_map = PhoneMap(AlignedConfig(phone_map="arpabet"))
    if cfg.phones not in ("text-phone", "lexicon"):
        raise DataError(f"data.{NAME}.phones={cfg.phones!r}: expected text-phone or lexicon")
    lexicon = Lexicon(lexicon_cfg or LexiconConfig()) if cfg.phones == "lexicon" else None
    train = read_half(path, "train", text_phone, text_phone_path, phone_map, lexicon)
    has_test = (path / "test").is_dir()
    dev_speakers, test_speakers = draw_speakers(train, cfg, with_test=not has_test)
    if has_test:
        test = read_half(path, "test", text_phone, text_phone_path, phone_map, lexicon)
    else:
        log.warning("%s has no test/ (the release's test half): test speakers are drawn from "
                    "train/ (data.%s.test_speakers)", path, NAME)
        test = [u for u in train if u.speaker in test_speakers]
    dev = [u for u in train if u.speaker in dev_speakers]
    held_out = set(dev_speakers) | set(test_speakers)
    splits = {"train": [u for u in train if u.speaker not in held_out], "dev": dev, "test": test}
    check_splits(splits, f"data.root={path}")
    return splits
