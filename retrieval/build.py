"""Build (or rebuild) the index from a corpus folder: load, clean, chunk, embed, write, publish.

Embeddings of chunks whose content hash is already in the live index (built by the
same model) are reused rather than recomputed, so re-running `articlebot index`
after a small change only embeds what changed. `full=True` ignores them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus import Article, Chunk, CorpusError, Document, LoadProblem, chunk_articles, read_documents
from corpus.clean import clean_documents
from embeddings import Encoder
from retrieval.index import IndexMeta, current_version, discard, new_version_dir, publish, utc_now, write_faiss
from retrieval.store import read_vectors_by_hash, write_store

EMBED_BATCH = 32


@dataclass
class BuildReport:
    """What a build did, for the CLI summary and `--json`."""

    articles: int
    chunks: int
    embedded: int
    seconds: float
    version: str
    problems: list[LoadProblem] = field(default_factory=list)
    cleaned: list[Article] = field(default_factory=list)


def build_index(
    corpus_dir: Path,
    data_dir: Path,
    encoder: Encoder,
    *,
    full: bool = False,
    progress: bool = False,
) -> BuildReport:
    """Index every article under `corpus_dir` into a new version in `data_dir`, then publish it."""
    docs, problems = read_documents(Path(corpus_dir))
    if not docs:
        raise CorpusError(f"No usable articles (.txt, .md, .html) in {corpus_dir}.")
    return build_from_documents(docs, data_dir, encoder, full=full, progress=progress, problems=problems)


def build_from_documents(
    docs: list[Document],
    data_dir: Path,
    encoder: Encoder,
    *,
    full: bool = False,
    progress: bool = False,
    problems: list[LoadProblem] | None = None,
) -> BuildReport:
    """Clean, chunk, embed and publish already-read documents."""
    started = time.monotonic()
    problems = list(problems or [])
    articles = clean_documents(docs)
    kept = {a.path for a in articles}
    problems += [LoadProblem(d.path, "nothing left after cleaning") for d in docs if d.path not in kept]
    if not articles:
        raise CorpusError("No article has any text left after cleaning.")
    chunks = chunk_articles(articles)
    vectors, embedded = embed_chunks(chunks, encoder, data_dir, reuse=not full, progress=progress)
    folder = new_version_dir(data_dir)
    try:
        ids = write_store(folder / "chunks.sqlite", articles, chunks, vectors)
        write_faiss(folder, ids, vectors, encoder.dim)
        IndexMeta(
            model=encoder.name,
            dim=encoder.dim,
            articles=len(articles),
            chunks=len(chunks),
            created=utc_now(),
            version=folder.name,
        ).write(folder)
        publish(data_dir, folder)
    except BaseException:
        discard(folder)
        raise
    return BuildReport(
        articles=len(articles),
        chunks=len(chunks),
        embedded=embedded,
        seconds=round(time.monotonic() - started, 2),
        version=folder.name,
        problems=problems,
        cleaned=articles,
    )


def embed_chunks(
    chunks: list[Chunk], encoder: Encoder, data_dir: Path, *, reuse: bool, progress: bool
) -> tuple[np.ndarray, int]:
    """Vectors for `chunks`, reusing the live index's vectors by content hash; returns (vectors, embedded)."""
    known: dict[str, np.ndarray] = {}
    live = current_version(data_dir) if reuse else None
    if live is not None and IndexMeta.read(live).model == encoder.name:
        known = read_vectors_by_hash(live / "chunks.sqlite", encoder.dim)
    vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
    todo = [i for i, c in enumerate(chunks) if c.content_hash not in known]
    for i, chunk in enumerate(chunks):
        if chunk.content_hash in known:
            vectors[i] = known[chunk.content_hash]
    if todo:
        fresh = encoder.encode([chunks[i].embed_text for i in todo], batch_size=EMBED_BATCH, progress=progress)
        vectors[todo] = fresh
    return vectors, len(todo)
