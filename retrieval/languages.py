"""A model's background similarity, per language: what a cosine must rise above.

A cosine means little on its own. multilingual-e5 gives every question a cosine
of 0.75 to 0.85 with any passage, and more with a passage in the question's own
language: "What are the long-term side effects of botox?" scores 0.81 with an
unrelated English passage and 0.80 with the Chinese one that answers it. So each
cosine is measured against a background: the question's mean similarity to a
fixed set of topic-mixed reference sentences in the passage's language
(data/parallel_zh_en.tsv, the same sentences in Chinese and English), which is
q . mean(reference vectors). A passage is scored by how far it rises above what
an unrelated passage in its language would get:

    cos(question, passage) - question . background[language of the passage]

This puts languages on one scale (a Chinese passage is no longer penalised for
an English question) and makes the refusal threshold mean the same thing for
every question. On the tuning half of tests/data/answers.jsonl it separated
answerable from unanswerable questions with 91% accuracy against 82% for the raw
cosine, and 83% for a fixed per-language-pair offset.

The reference vectors are embedded once per model (through the vector cache).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from common.text import sha256
from embeddings import Encoder
from embeddings.base import encode_queries
from retrieval.vectorcache import VectorCache

LANGS = ("zh", "en")


def parallel_sentences() -> list[tuple[str, str]]:
    """(Chinese, English) pairs that say the same thing."""
    text = resources.files("retrieval").joinpath("data/parallel_zh_en.tsv").read_text("utf-8")
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            zh, en = line.split("\t")
            pairs.append((zh.strip(), en.strip()))
    return pairs


def cached_vectors(encoder: Encoder, texts: list[str], *, query: bool, cache: VectorCache | None) -> np.ndarray:
    """Vectors of `texts` (as questions or as passages), from the vector cache where it has
    them; the others are embedded and cached."""
    keys = [("query:" if query else "reference:") + sha256(t) for t in texts]
    known = cache.get(encoder.name, encoder.dim, keys) if cache else {}
    todo = [i for i, k in enumerate(keys) if k not in known]
    if todo:
        fresh = encode_queries(encoder, [texts[i] for i in todo]) if query else encoder.encode([texts[i] for i in todo])
        new = {keys[i]: v for i, v in zip(todo, fresh)}
        if cache:
            cache.put(encoder.name, new)
        known.update(new)
    return np.stack([known[k] for k in keys])


def background(encoder: Encoder, cache: VectorCache | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """For one model: {language: mean passage vector of the reference sentences}, and
    the cross-language offsets that remain once scores are taken above that background
    ({"en>zh": x}: added to a Chinese passage's score for an English question)."""
    pairs = parallel_sentences()
    texts = {"zh": [zh for zh, _ in pairs], "en": [en for _, en in pairs]}
    passages = {lang: cached_vectors(encoder, texts[lang], query=False, cache=cache) for lang in LANGS}
    queries = {lang: cached_vectors(encoder, texts[lang], query=True, cache=cache) for lang in LANGS}
    ground = {lang: passages[lang].mean(axis=0).astype(np.float32) for lang in LANGS}
    offsets = {}
    for q in LANGS:
        for p in LANGS:
            if q != p:
                # a question against its own translation vs against itself, both above their background
                same = np.einsum("ij,ij->i", queries[q], passages[q]) - queries[q] @ ground[q]
                other = np.einsum("ij,ij->i", queries[q], passages[p]) - queries[q] @ ground[p]
                offsets[f"{q}>{p}"] = round(float(np.mean(same - other)), 4)
    return ground, offsets
