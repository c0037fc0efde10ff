"""LibriSpeech (Panayotov et al., ICASSP 2015; OpenSLR 12): read audiobooks, CC BY 4.0.

Layout as released (``LibriSpeech/`` from the archives, or a copy of it)::

    <root>/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac   (or .wav, .mp3)
    <root>/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt  "<utt-id> WORD WORD ..."
    <root>/SPEAKERS.TXT                                                 "id | sex | subset | ..."

Several subsets are read at once (``data.librispeech.subsets``, e.g. ``[train-clean-100,
train-clean-360]``). Dev and test are the ``dev_subsets``/``test_subsets`` when given
(``dev-clean``, ``test-clean``), else speakers drawn from the training subsets, seeded and in
proportion to the genders of ``SPEAKERS.TXT`` (``dev_speakers``, ``test_speakers``). Without
``data.root``, the subsets missing from ``<data.dir>/download/LibriSpeech`` are downloaded from
OpenSLR, each archive checked against its published SHA-256 (``phonelstm.data.download``).

There are no phone labels: each transcript becomes TIMIT-61 phones through
``phonelstm.data.lexicon`` (a pronouncing dictionary, eSpeak NG for the words it lacks), so no
utterance is dropped; the words eSpeak pronounced are counted in the log. A transcript line
without audio, audio without a transcript line, an unreadable file or an unpronounceable word
stops preparation with one line naming the file.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from phonelstm.config import LexiconConfig, LibrispeechConfig
from phonelstm.data.aligned import audio_duration
from phonelstm.data.corpus import DataError, abbreviate, check_root, check_splits, draw_held_out
from phonelstm.data.download import download_corpus
from phonelstm.data.lexicon import Lexicon, words_of
from phonelstm.data.manifest import Utterance

log = logging.getLogger("phonelstm.data")

NAME = "librispeech"
TOP = "LibriSpeech"
AUDIO_SUFFIXES = (".flac", ".wav", ".mp3")
METADATA = ("SPEAKERS.TXT", "CHAPTERS.TXT", "BOOKS.TXT", "LICENSE.TXT", "README.TXT")
# SHA-256 of the OpenSLR archives (as torchaudio's LIBRISPEECH dataset checks them).
SHA256 = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}
_UTT_ID = re.compile(r"^\d+-\d+-\d+$")


def read_genders(path: Path) -> dict[str, str]:
    """Speaker id -> ``f``/``m`` from ``SPEAKERS.TXT`` (``;`` comments, ``|``-separated)."""
    if not path.is_file():
        raise DataError(f"{path}: not found (LibriSpeech's speaker list, for the genders)")
    genders = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 2 or fields[1].lower() not in ("f", "m"):
            raise DataError(f"{path}:{lineno}: expected 'id | F or M | subset | ...'")
        genders[fields[0]] = fields[1].lower()
    return genders


def read_chapter(trans: Path, lexicon: Lexicon) -> list[Utterance]:
    """The utterances of one chapter folder: its transcript lines and the audio beside them."""
    audio = {p.stem: p for p in sorted(trans.parent.iterdir()) if p.suffix in AUDIO_SUFFIXES}
    utts = []
    with open(trans, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{trans}:{lineno}"
            utt_id, _, text = line.strip().partition(" ")
            if not _UTT_ID.match(utt_id) or not words_of(text):
                raise DataError(f"{where}: expected '<speaker>-<chapter>-<n> WORD WORD ...'")
            if utt_id not in audio:
                raise DataError(f"{where}: no audio {utt_id}.flac/.wav/.mp3 beside it")
            path = audio.pop(utt_id)
            utts.append(Utterance(
                id=utt_id, audio=str(path), speaker=utt_id.split("-")[0],
                phones=lexicon.sentence(words_of(text), where),
                duration=audio_duration(path, where), extra={"text": text.strip()}))
    if audio:
        first = sorted(audio.values())[0]
        raise DataError(f"{first}: no transcript line in {trans} "
                        f"({len(audio)} audio file(s) without one)")
    return utts


def read_subset(folder: Path, lexicon: Lexicon) -> list[Utterance]:
    """Every chapter of a subset folder (``<speaker>/<chapter>/``)."""
    transcripts = sorted(folder.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise DataError(f"{folder}: no <speaker>/<chapter>/*.trans.txt (a LibriSpeech subset "
                        "folder expected)")
    for chapter in sorted(p for p in folder.glob("*/*") if p.is_dir()):
        if not any(chapter.glob("*.trans.txt")):
            raise DataError(f"{chapter}: audio folder without a .trans.txt transcript")
    return [u for trans in transcripts for u in read_chapter(trans, lexicon)]


def find_corpus(root: str | None, out: Path, cfg: LibrispeechConfig,
                subsets: list[str]) -> Path:
    """The ``LibriSpeech`` folder: ``data.root`` (or its ``LibriSpeech/``), else the copy under
    ``<data.dir>/download/``, with the missing subsets downloaded into it."""
    if root:
        path = check_root(root, NAME)
        path = path / TOP if (path / TOP).is_dir() else path
        missing = [s for s in subsets if not (path / s).is_dir()]
        if missing:
            raise DataError(f"data.root={root}: no subset folder {', '.join(missing)} (found: "
                            f"{abbreviate(sorted(p.name for p in path.iterdir() if p.is_dir()))})")
        return path
    copy = out / "download" / TOP
    for subset in subsets:
        if (copy / subset).is_dir():
            continue
        if subset not in SHA256:
            raise DataError(f"data.librispeech: {subset!r} is not a LibriSpeech subset "
                            f"({', '.join(SHA256)})")
        log.info("data.root is not set and %s does not exist: downloading it", copy / subset)
        download_corpus(f"{cfg.url}/{subset}.tar.gz", copy / subset, f"{TOP}/{subset}",
                        SHA256[subset], metadata=[f"{TOP}/{name}" for name in METADATA])
    return copy


def prepare_librispeech(cfg: LibrispeechConfig, lexicon_cfg: LexiconConfig, root: str | None,
                        out: Path) -> dict:
    """Read the subsets into speaker-disjoint train/dev/test with phones from the lexicon."""
    if not cfg.subsets:
        raise DataError("data.librispeech.subsets is empty: name the training subsets, e.g. "
                        "[train-clean-100]")
    wanted = list(dict.fromkeys(cfg.subsets + cfg.dev_subsets + cfg.test_subsets))
    path = find_corpus(root, out, cfg, wanted)
    genders = read_genders(path / "SPEAKERS.TXT")
    lexicon = Lexicon(lexicon_cfg)
    read = {subset: read_subset(path / subset, lexicon) for subset in wanted}
    for utt in (u for utts in read.values() for u in utts):
        if utt.speaker not in genders:
            raise DataError(f"{path / 'SPEAKERS.TXT'}: no gender for speaker {utt.speaker} "
                            f"({utt.audio})")
        utt.extra["gender"] = genders[utt.speaker]
    train = [u for s in cfg.subsets for u in read[s]]
    draw_dev = 0 if cfg.dev_subsets else cfg.dev_speakers
    draw_test = 0 if cfg.test_subsets else cfg.test_speakers
    dev_speakers, test_speakers = draw_held_out(
        {u.speaker: (u.extra["gender"],) for u in train}, cfg.seed, draw_dev, draw_test,
        f"data.{NAME}")
    held_out = set(dev_speakers) | set(test_speakers)
    splits = {
        "train": [u for u in train if u.speaker not in held_out],
        "dev": [u for s in cfg.dev_subsets for u in read[s]] or
               [u for u in train if u.speaker in dev_speakers],
        "test": [u for s in cfg.test_subsets for u in read[s]] or
                [u for u in train if u.speaker in test_speakers],
    }
    if lexicon.fallback_words:
        tokens = sum(lexicon.fallback_words.values())
        log.info("%d word types (%d tokens) not in the dictionary were pronounced by eSpeak NG: "
                 "%s", len(lexicon.fallback_words), tokens,
                 abbreviate(sorted(lexicon.fallback_words)))
    check_splits(splits, f"data.root={path}")
    return splits
