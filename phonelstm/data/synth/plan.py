"""Who reads what: the speaker catalog, the speaker-disjoint split and the Harvard sentences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from phonelstm.config import SynthConfig
from phonelstm.data.manifest import SPLITS
from phonelstm.data.synth import SynthError

# English accents of eSpeak NG (en-Shaw is a spelling, not an accent).
ACCENTS: tuple[str, ...] = (
    "en-us", "en", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-us-nyc",
)  # fmt: skip

# Voice variants (espeak-ng-data/voices/!v). Left out: every variant with an echo (m2, f2-f5,
# Alicia, Marco, robots): the echo fills stop closures, which are labelled from the silence
# they leave (see label_utterance); whispered or unvoiced ones (whisper, whisperf, caleb);
# novelty voices (croak, Demonic, Tweaky, fast); near-duplicates of a listed one.
VARIANTS: tuple[str, ...] = (
    "m1", "m3", "m4", "m5", "m6", "m7", "m8", "f1",
    "Alex", "Andrea", "Annie", "Denis", "Gene", "Hugo", "Michael", "Mike", "Nguyen", "adam",
    "anika", "antonio", "aunty", "belinda", "benjamin", "david", "ed", "edward", "grandma",
    "grandpa", "gustave", "iven", "linda", "marcelo", "max", "michel", "mike2", "paul",
    "pedro", "quincy", "robert", "sandro", "shelby", "steph", "steph3", "travis", "victor",
    "zac",
)  # fmt: skip


def catalog(accents: Sequence[str] = ()) -> tuple[tuple[str, str], ...]:
    """Speaker i reads with VARIANTS[i] in accent ``accents[i % len(accents)]`` (all eight
    ``ACCENTS`` when empty, as ``data.synth.accents`` is by default): a fixed catalog, so a
    speaker's name always means the same accent and variant (rate and pitch follow the seed
    and the index)."""
    unknown = sorted(set(accents) - set(ACCENTS))
    if unknown:
        raise SynthError(f"data.synth.accents: {unknown} not among eSpeak NG's "
                         f"English accents {list(ACCENTS)}")
    chosen = tuple(accents) or ACCENTS
    return tuple((chosen[i % len(chosen)], variant) for i, variant in enumerate(VARIANTS))


_WPM = (150, 200)  # speaking rate, words per minute (eSpeak's default is 175)
_PITCH = (35, 65)  # eSpeak base pitch, 0-100 (50 is the variant's own)
_PITCH_RANGE = (40, 80)  # eSpeak intonation range, 0-100 (0 is monotone)


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an eSpeak accent and voice variant at a fixed rate and pitch."""

    name: str
    accent: str
    variant: str
    rate: int
    pitch: int
    pitch_range: int

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"


def _speaker(seed: int, index: int, accent: str, variant: str) -> Speaker:
    # Seeded by catalog index alone: a speaker's voice does not depend on the split sizes.
    rng = np.random.default_rng([seed, index])
    return Speaker(
        name=f"{accent}_{variant.lower()}",
        accent=accent,
        variant=variant,
        rate=int(rng.integers(_WPM[0], _WPM[1] + 1)),
        pitch=int(rng.integers(_PITCH[0], _PITCH[1] + 1)),
        pitch_range=int(rng.integers(_PITCH_RANGE[0], _PITCH_RANGE[1] + 1)),
    )


def plan_speakers(cfg: SynthConfig) -> dict[str, list[Speaker]]:
    """Speaker-disjoint split of the catalog: dev and test first, then train, in seeded order."""
    speakers = catalog(cfg.accents)
    n_train = cfg.train_voices or len(speakers) - cfg.dev_voices - cfg.test_voices
    counts = {"dev": cfg.dev_voices, "test": cfg.test_voices, "train": n_train}
    if min(counts.values()) < 1:
        raise SynthError(
            f"synth needs at least one speaker per split, got {counts}; "
            "set data.synth.dev_voices/test_voices/train_voices >= 1"
        )
    if sum(counts.values()) > len(speakers):
        raise SynthError(
            f"synth has {len(speakers)} speakers but the config asks for {sum(counts.values())} "
            f"({counts}); lower data.synth.train_voices/dev_voices/test_voices"
        )
    order = np.random.default_rng(cfg.seed).permutation(len(speakers)).tolist()
    plan, taken = {}, 0
    for split in ("dev", "test", "train"):
        indices = order[taken : taken + counts[split]]
        plan[split] = [_speaker(cfg.seed, i, *speakers[i]) for i in sorted(indices)]
        taken += counts[split]
    return {split: plan[split] for split in SPLITS}


@lru_cache(maxsize=1)
def harvard_sentences() -> tuple[str, ...]:
    """The 720 Harvard sentences shipped as package data (comment lines skipped)."""
    text = (
        resources.files("phonelstm")
        .joinpath("resources/harvard_sentences.txt")
        .read_text(encoding="utf-8")
    )
    return tuple(s for s in (line.strip() for line in text.splitlines()) if s and s[0] != "#")


def sentence_pools(cfg: SynthConfig, n_sentences: int) -> dict[str, list[int]]:
    """Disjoint sentence indices per split: dev and test read sentences train never hears."""
    order = np.random.default_rng([cfg.seed, n_sentences]).permutation(n_sentences).tolist()
    half = cfg.eval_sentences // 2
    return {"dev": order[:half], "test": order[half : 2 * half], "train": order[2 * half :]}
