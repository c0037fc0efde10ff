"""Corpus layouts for the tests, built in a temporary folder from a small synthetic corpus.

``SYNTH`` is a synthetic corpus (``phonelstm.data.synth``: eSpeak NG speech with time-aligned
TIMIT-61 phones) of 8 voices and 10 sentences each, built in seconds once per test session.
Its voices stand in for the 8 speakers of the TIMIT sample and for 8 speechocean762 speakers,
so the corpus readers and recipes run on every machine, with no licensed data: the layouts
are those of the real corpora, the speech is eSpeak's.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import soundfile as sf

from phonelstm.config import SynthConfig
from phonelstm.data.lexicon import SHIPPED, read_dictionary
from phonelstm.data.manifest import SPLITS, Utterance, read_manifest

SYNTH = SynthConfig(train_voices=6, dev_voices=1, test_voices=1, sentences_per_train_voice=10,
                    sentences_per_eval_voice=10)
# The TIMIT sample's speaker folders (NLTK layout), given to the synthetic voices in split
# order: its 6 training speakers to the train voices, then falr0 to dev's, maeb0 to test's.
SAMPLE_FOLDERS = ["dr1-fvmh0", "dr1-mcpm0", "dr2-faem0", "dr2-marc0", "dr3-falk0",
                  "dr3-madc0", "dr4-falr0", "dr4-maeb0"]
SAMPLE_SPLIT = {"train": ["fvmh0", "mcpm0", "faem0", "marc0", "falk0", "madc0"],
                "dev": ["falr0"], "test": ["maeb0"]}
# speechocean762 speakers and their (age, gender): two of each age group and gender
SO762_SPEAKERS = {"0036": (21, "f"), "0135": (24, "f"), "0960": (28, "m"), "0482": (33, "m"),
                  "0006": (9, "f"), "0026": (11, "f"), "0001": (8, "m"), "0005": (12, "m")}


def voices(synth: Path) -> list[list[Utterance]]:
    """The synthetic corpus's utterances by voice: the train voices, then dev's and test's."""
    by_voice: dict[str, list[Utterance]] = {}
    for split in SPLITS:
        for utt in read_manifest(synth / f"{split}.jsonl"):
            by_voice.setdefault(utt.speaker, []).append(utt)
    return list(by_voice.values())


def words(text: str) -> list[str]:
    """The words of a sentence in lower case, punctuation dropped."""
    return re.findall(r"[a-z']+", text.lower())


def _word_times(utt: Utterance, rate: int) -> list[tuple[int, int, str]]:
    """The words spread over the speech between the two h# in proportion to their letters:
    rough times (eSpeak gives none), which phonelstm's reader does not read."""
    start, end = round(utt.segments[0][1] * rate), round(utt.segments[-1][0] * rate)
    spoken = words(utt.extra["text"])
    letters = [0]
    for word in spoken:
        letters.append(letters[-1] + len(word))
    bounds = [start + (end - start) * n // letters[-1] for n in letters]
    return list(zip(bounds, bounds[1:], spoken, strict=False))


def timit_sample_tree(dest: Path, synth: Path) -> Path:
    """The synthetic voices in the NLTK TIMIT sample's layout,
    ``drN-<sex><speaker>/<utt>.{wav,sph,phn,wrd,txt}``: per speaker ``sa1``, ``sa2``, three
    ``si<n>`` and five ``sx<n>`` (``n``: the Harvard sentence), the ``.phn`` the synthetic
    labels; a NIST SPHERE ``.sph`` beside every ``.wav`` but ``sa1``'s, as in the sample."""
    for folder, utts in zip(SAMPLE_FOLDERS, voices(synth), strict=True):
        (dest / folder).mkdir(parents=True)
        for index, utt in enumerate(utts):
            number = int(utt.id.rsplit("_h", 1)[1])
            name = ("sa1", "sa2")[index] if index < 2 else f"{'si' if index < 5 else 'sx'}{number}"
            stem = dest / folder / name
            audio, rate = sf.read(utt.audio, dtype="int16")
            shutil.copy(utt.audio, stem.with_suffix(".wav"))
            if name != "sa1":
                sf.write(stem.with_suffix(".sph"), audio, rate, format="NIST", subtype="PCM_16")
            shutil.copy(Path(utt.audio).with_suffix(".phn"), stem.with_suffix(".phn"))
            stem.with_suffix(".wrd").write_text("".join(
                f"{a} {b} {word}\n" for a, b, word in _word_times(utt, rate)))
            stem.with_suffix(".txt").write_text(f"0 {len(audio)} {utt.extra['text']}\n")
    return dest


def ldc_tree(dest: Path, sample: Path, speakers: dict[str, tuple[str, str]] | None = None
             ) -> Path:
    """An NLTK-layout ``sample`` in the LDC layout ``dest/TIMIT/{TRAIN,TEST}/DRn/<SPK>/``:
    upper-case names, SPHERE inside ``.WAV``, the ``.TXT`` and ``.WRD`` files beside them.

    ``speakers`` maps a sample speaker to (subset, new speaker id); by default dr1-dr3 go to
    TRAIN and dr4 to TEST under their own ids.
    """
    root = dest / "TIMIT"
    for folder in sorted(sample.glob("dr*-*")):
        region, speaker = folder.name.split("-")
        subset, new_id = (speakers or {}).get(
            speaker, ("TEST" if region == "dr4" else "TRAIN", speaker))
        target = root / subset / region.upper() / new_id.upper()
        target.mkdir(parents=True)
        for phn in folder.glob("*.phn"):
            stem = phn.stem.upper()
            for suffix in ("phn", "txt", "wrd"):
                shutil.copy(phn.with_suffix(f".{suffix}"), target / f"{stem}.{suffix.upper()}")
            sph = phn.with_suffix(".sph")
            if sph.is_file():
                shutil.copy(sph, target / f"{stem}.WAV")
            else:
                data, rate = sf.read(phn.with_suffix(".wav"), dtype="int16")
                sf.write(target / f"{stem}.WAV", data, rate, format="NIST", subtype="PCM_16")
    return root


def _positions(symbols: list[str]) -> str:
    """ARPAbet symbols with speechocean762's word-position suffixes ``_B _I _E _S``."""
    if len(symbols) == 1:
        return f"{symbols[0]}_S"
    inner = [f"{s}_I" for s in symbols[1:-1]]
    return " ".join([f"{symbols[0]}_B", *inner, f"{symbols[-1]}_E"])


def speechocean762_corpus(dest: Path, synth: Path) -> Path:
    """The synthetic voices as speechocean762's training half: ``train/{wav.scp, text,
    utt2spk, spk2age, spk2gender}``, ``resource/text-phone`` (each word's CMUdict phones) and
    ``WAVE/SPEAKER<spk>/<utt>.flac``, utterance ids ``0<spk><Harvard number>``."""
    tables: dict[str, list[str]] = {name: [] for name in (
        "wav.scp", "text", "utt2spk", "spk2age", "spk2gender", "text-phone")}
    for speaker, utts in sorted(zip(SO762_SPEAKERS, voices(synth), strict=True)):
        age, gender = SO762_SPEAKERS[speaker]
        tables["spk2age"].append(f"{speaker}\t{age}")
        tables["spk2gender"].append(f"{speaker}\t{gender}")
        for utt in utts:
            utt_id = f"0{speaker}{int(utt.id.rsplit('_h', 1)[1]):04d}"
            audio = Path("WAVE") / f"SPEAKER{speaker}" / f"{utt_id}.flac"
            (dest / audio).parent.mkdir(parents=True, exist_ok=True)
            sf.write(dest / audio, sf.read(utt.audio, dtype="int16")[0], 16000, format="FLAC")
            spoken = words(utt.extra["text"])
            tables["wav.scp"].append(f"{utt_id}\t{audio}")
            tables["text"].append(f"{utt_id}\t{' '.join(spoken).upper()}")
            tables["utt2spk"].append(f"{utt_id}\t{speaker}")
            cmudict = read_dictionary(SHIPPED)
            tables["text-phone"] += [f"{utt_id}.{i}\t{_positions(list(cmudict[word][0]))}"
                                     for i, word in enumerate(spoken)]
    for name, lines in tables.items():
        path = dest / ("resource" if name == "text-phone" else "train") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines))
    return dest


def librispeech_tree(dest: Path, synth: Path, subset: str = "dev-clean") -> Path:
    """The synthetic voices as a LibriSpeech subset, ``dest/LibriSpeech/<subset>/<speaker>/
    <chapter>/<speaker>-<chapter>-<n>.flac`` with each chapter's ``.trans.txt`` (upper-case
    words) and ``SPEAKERS.TXT`` (voices alternately female and male)."""
    top = dest / "LibriSpeech"
    speakers = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for index, utts in enumerate(voices(synth)):
        speaker, chapter = str(100 + index), str(2000 + index)
        folder = top / subset / speaker / chapter
        folder.mkdir(parents=True)
        lines = []
        for n, utt in enumerate(utts):
            name = f"{speaker}-{chapter}-{n:04d}"
            sf.write(folder / f"{name}.flac", sf.read(utt.audio, dtype="int16")[0], 16000,
                     format="FLAC")
            lines.append(f"{name} {' '.join(words(utt.extra['text'])).upper()}\n")
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
        speakers.append(f"{speaker} | {'FM'[index % 2]} | {subset} | 1.00 | voice {index}")
    (top / "SPEAKERS.TXT").write_text("\n".join(speakers) + "\n")
    return top


def _lines(path: Path) -> list[list[str]]:
    return [line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip()]


def speechocean762_tree(dest: Path, source: Path, train: list[str], test: list[str] = (),
                        wav: bool = False, per_speaker: int = 2,
                        drop: tuple[str, ...] = ()) -> Path:
    """A small copy of the speechocean762 training half at ``source``: the first
    ``per_speaker`` utterances of each speaker, FLAC linked in place or converted to ``.WAV``
    as released, ``test/`` when ``test`` speakers are given; ``drop``: text-phone keys to
    leave out."""
    utt2spk = dict(_lines(source / "train" / "utt2spk"))
    wavs = dict(_lines(source / "train" / "wav.scp"))
    kept = set()
    for half, speakers in (("train", train), ("test", test)):
        if not speakers:
            continue
        folder = dest / half
        folder.mkdir(parents=True)
        utts = [u for s in speakers for u in sorted(k for k, v in utt2spk.items() if v == s)
                [:per_speaker]]
        kept |= set(utts)
        scp = []
        for utt in utts:
            name = Path(wavs[utt]).with_suffix(".WAV") if wav else Path(wavs[utt])
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            if wav:
                audio, rate = sf.read(source / wavs[utt], dtype="int16")
                sf.write(dest / name, audio, rate, subtype="PCM_16", format="WAV")
            else:
                (dest / name).symlink_to(source / wavs[utt])
            scp.append(f"{utt}\t{name}\n")
        (folder / "wav.scp").write_text("".join(scp))
        for table in ("text", "utt2spk"):
            rows = [r for r in _lines(source / "train" / table) if r[0] in utts]
            (folder / table).write_text("".join(f"{k}\t{v}\n" for k, v in rows))
        for table in ("spk2age", "spk2gender"):
            rows = [r for r in _lines(source / "train" / table) if r[0] in speakers]
            (folder / table).write_text("".join(f"{k}\t{v}\n" for k, v in rows))
    (dest / "resource").mkdir()
    rows = [r for r in _lines(source / "resource" / "text-phone")
            if r[0].split(".")[0] in kept and r[0] not in drop]
    (dest / "resource" / "text-phone").write_text("".join(f"{k}\t{v}\n" for k, v in rows))
    return dest
