"""Embedded synthetic speech corpus: eSpeak NG reads the Harvard sentences, labelled in TIMIT-61.

So the toolkit runs with no licensed data, ``corpus.prepare_synth`` synthesises a small corpus
with eSpeak NG (PyPI ``espeakng-loader``, driven through ``ctypes``):

- text: the 720 Harvard sentences (IEEE 1969, public domain), ``resources/harvard_sentences.txt``;
- speakers: an eSpeak accent (all eight, or those of ``SynthConfig.accents``) plus a voice
  variant, each with its own rate, pitch and pitch range drawn from the seed; each variant
  is used by one speaker only, so the speaker-disjoint train/dev/test splits never share a
  voice quality either (``plan``);
- labels: eSpeak's phoneme events give each phoneme's first output sample; ``ESPEAK_TO_TIMIT``
  maps the phonemes onto TIMIT-61, stop closures are read off the signal (``labels``);
- output: ``wav/<speaker>/<id>.wav`` (16-bit PCM) and TIMIT-style ``<id>.phn`` (sample indices)
  beside it, and the manifests ``{train,dev,test}.jsonl`` (``corpus``).

The modules, lowest first: ``espeak`` (the ctypes binding), ``labels`` (phoneme events ->
TIMIT-61 segments), ``plan`` (speaker catalog, splits, sentence pools), ``corpus`` (worker jobs,
cache stamp, ``prepare_synth``).

eSpeak keeps state between calls, so the same call sequence is needed for the same audio: each
speaker is synthesised in a fresh worker process with a seeded noise generator, and the corpus is
byte-identical for a given config whatever the number of workers.
"""

from phonelstm.data.corpus import DataError


class SynthError(DataError, RuntimeError):
    """The synthetic corpus cannot be built: bad config, eSpeak failure or an unmapped phoneme."""
