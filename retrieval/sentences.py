"""The sentences of a passage, their vectors, and which one answers a question.

A chunk is a few hundred characters; a reply quotes less, and the sentence that
answers must be in it. Every chunk's sentences are embedded at index time by the
primary model (stored in the version's `sentences` table, reused across
re-indexes through the vector cache like chunk vectors), so choosing the
answering sentence costs no extra embedding at question time: the question's
vector is already there.

A sentence's answer score is its cosine with the question (meaning) times
SENTENCE_COSINE_WEIGHT plus the IDF-weighted share of the question's terms it
holds, across languages through the dictionary bridge (lexical.text_coverage).
Measured on the tuning half of tests/data/answers.jsonl (lines whose first quoted
passage is from the right article, expected text inside the excerpt): bigram
overlap as before 44/64; IDF-weighted terms alone 48/64; cosine alone 42/64;
both (weight 0.5) 48/64, and 86/121 against 84/121 for terms alone over the whole
set with right passages, the gain on rambling and English questions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.text import sha256, split_sentences

SENTENCE_COSINE_WEIGHT = 0.5


def units(text: str) -> list[tuple[int, str]]:
    """(line number, sentence) of a passage, in order: what an excerpt is made of and
    what is embedded sentence by sentence (line breaks are kept for inline headings)."""
    return [(n, s) for n, line in enumerate(text.split("\n")) for s in split_sentences(line)]


def sentence_hash(sentence: str) -> str:
    """The key of a sentence's vector in the vector cache (the same text embeds the same)."""
    return sha256(sentence)


def answer_scores(cosines: np.ndarray | None, coverage: Sequence[float]) -> list[float]:
    """Each sentence's answer score: meaning (cosine, when the index has sentence vectors) and terms."""
    scores = np.asarray(coverage, dtype=np.float32)
    if cosines is not None and len(cosines) == len(scores):
        scores = scores + SENTENCE_COSINE_WEIGHT * np.asarray(cosines, dtype=np.float32)
    return [float(s) for s in scores]
