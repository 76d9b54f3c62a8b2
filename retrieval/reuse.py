"""Vector reuse on re-indexing: a chunk's or a sentence's vector is taken from the live
index version or the data directory's vector cache (vectorcache.py) when the same model
embedded the same text before; only what neither holds is embedded, CACHE_EVERY at a
time, each batch written to the cache as soon as it is embedded (what a killed re-index
keeps). Nothing is reused from another model, another index format or a vector of the
wrong size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.text import to_simplified
from corpus import Chunk
from embeddings import Encoder
from retrieval.index import FORMAT, IndexMeta
from retrieval.sentences import sentence_hash, units
from retrieval.store import read_sentence_vectors, read_vectors_by_hash
from retrieval.vectorcache import VectorCache

EMBED_BATCH = 32
CACHE_EVERY = 64  # passages embedded between writes to the vector cache (what a killed re-index keeps)


def live_meta(live: Path | None) -> IndexMeta | None:
    """The live version's meta, if it is readable and of this format (otherwise nothing is reused from it)."""
    if live is None:
        return None
    try:
        meta = IndexMeta.read(live)
    except (OSError, ValueError, TypeError):
        return None
    return meta if meta.format == FORMAT else None


def live_vectors(live: Path | None, encoder: Encoder) -> dict[str, np.ndarray]:
    """The live version's vectors of this model by content hash (none from another model or format)."""
    meta = live_meta(live)
    if meta is None or encoder.name not in meta.models:
        return {}
    return read_vectors_by_hash(live / "chunks.sqlite", meta.models.index(encoder.name), encoder.dim)


def embed_missing(texts: dict[str, str], known: dict[str, np.ndarray], encoder: Encoder, *, cache: VectorCache | None,
                  progress: bool, what: str, unit: str) -> None:
    """Embed the texts (by key) that `known` lacks, CACHE_EVERY at a time, adding each batch to
    `known` and to the cache as soon as it is embedded (what a killed re-index keeps)."""
    todo = [key for key in texts if key not in known]
    bar = None
    if progress and len(todo) > CACHE_EVERY:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"{what} ({encoder.name})", unit=unit)
    try:
        for start in range(0, len(todo), CACHE_EVERY):
            part = todo[start : start + CACHE_EVERY]
            vectors = encoder.encode([texts[key] for key in part], batch_size=EMBED_BATCH, progress=progress and bar is None)
            fresh = {key: np.asarray(v, dtype=np.float32) for key, v in zip(part, vectors)}
            known.update(fresh)
            if cache is not None:
                cache.put(encoder.name, fresh)
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()


def reusable(keys: list[str], encoder: Encoder, live_known: dict[str, np.ndarray], cache: VectorCache | None) -> dict[str, np.ndarray]:
    """What the live version holds for these keys, plus what the cache holds for the rest."""
    known = dict(live_known)
    if cache is not None:
        known.update(cache.get(encoder.name, encoder.dim, [k for k in keys if k not in known]))
    return known


def embed_sentences(
    chunks: list[Chunk], encoder: Encoder, live: Path | None, *, reuse: bool, progress: bool,
    cache: VectorCache | None = None,
) -> tuple[list[list[tuple[str, np.ndarray]]], int]:
    """The primary model's vector of every sentence of every chunk (sentences.py), reusing
    those the live version or the cache holds for the same text and model: per chunk, the
    (hash, vector) of its sentences in order, and how many sentences were embedded."""
    texts = [[to_simplified(sentence) for _, sentence in units(c.text)] for c in chunks]  # as search compares them
    keys = {sentence_hash(t): t for sentences in texts for t in sentences}
    known: dict[str, np.ndarray] = {}
    if reuse:
        meta = live_meta(live)
        held = meta is not None and meta.sentences == encoder.name
        known = reusable(list(keys), encoder, read_sentence_vectors(live / "chunks.sqlite", encoder.dim) if held else {}, cache)
    missing = sum(key not in known for key in keys)
    embed_missing(keys, known, encoder, cache=cache, progress=progress, what="embedding sentences", unit="sentence")
    return [[(sentence_hash(t), known[sentence_hash(t)]) for t in sentences] for sentences in texts], missing


def embed_chunks(
    chunks: list[Chunk], encoder: Encoder, live: Path | None, *, reuse: bool, progress: bool,
    cache: VectorCache | None = None,
) -> tuple[np.ndarray, int]:
    """One model's vectors for `chunks`, reusing what the live version or the cache holds for
    the same content hash and model; returns (vectors, how many were embedded)."""
    hashes = [c.content_hash for c in chunks]
    known = reusable(hashes, encoder, live_vectors(live, encoder), cache) if reuse else {}
    embedded = sum(h not in known for h in hashes)
    embed_missing({c.content_hash: c.embed_text for c in chunks}, known, encoder, cache=cache, progress=progress,
                  what="embedding", unit="passage")  # fmt: skip
    vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        vectors[i] = known[h]
    return vectors, embedded
