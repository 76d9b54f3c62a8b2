"""Build or update the index from a corpus folder: load, clean, chunk, embed, write, publish.

Re-indexing is incremental where it costs: every article's bytes are hashed and
compared with the live index, and the vectors of chunks whose content hash was
embedded before by the same model (in the live version or the data directory's
vector cache, vectorcache.py) are reused (reuse.py), so only new or changed text is embedded
(about 12 passages a second with multilingual-e5-small, 15 with m3e-small, on two
cores). With several models, each embeds what it has not embedded yet. The new
version is written beside the live one and published atomically (see index.py);
chunks of changed or removed articles simply are not in it. One re-index at a
time per data directory (`reindex_lock`). `full=True` re-embeds everything.

The version remembers the absolute corpus folder it was built from (`IndexMeta.corpus`):
`/reindex` re-indexes that folder, and a build from another folder says so
(`BuildReport.previous_corpus`), since every article only the other folder held is removed.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.clock import utc_stamp
from common.text import detect_language
from corpus import (
    Article,
    Chunk,
    CorpusError,
    Document,
    LoadProblem,
    chunk_articles,
    read_documents,
)
from corpus.clean import repeated_lines
from corpus.load import clean_loaded, printable
from embeddings import Encoder, model_info
from retrieval.index import (
    DenseMeta,
    IndexMeta,
    background_file,
    current_version,
    dense_file,
    discard,
    new_version_dir,
    publish,
    reindex_lock,
    write_faiss,
)
from retrieval.languages import background
from retrieval.lexical import LexicalIndex
from retrieval.reuse import embed_chunks, embed_sentences, live_meta
from retrieval.store import (
    read_article_hashes,
    read_boilerplate,
    write_store,
)
from retrieval.vectorcache import VectorCache


@dataclass
class BuildReport:
    """What a build did, for the CLI summary and `--json`."""

    articles: int
    chunks: int
    embedded: int  # chunks embedded (the others reused)
    seconds: float
    version: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    cleaned: list[Article] = field(default_factory=list)
    # articles with no passage of their own: {path: the article that holds the same text}
    duplicates: dict[str, str] = field(default_factory=dict)
    sentences_embedded: int = 0  # sentences embedded for choosing excerpts (the others reused)
    notes: list[LoadProblem] = field(default_factory=list)  # articles read with something mended (stray bytes dropped)
    corpus: str = ""  # the absolute article folder this version was built from
    previous_corpus: str = ""  # the folder the version it replaced was built from ("": none or not known)


Encoders = Encoder | list[Encoder] | tuple[Encoder, ...]


def _as_list(encoders: Encoders) -> list[Encoder]:
    return list(encoders) if isinstance(encoders, (list, tuple)) else [encoders]


SKIPPED_SHOWN = 5  # skipped files named, with their reasons, when no article is usable


def build_index(
    corpus_dir: Path,
    data_dir: Path,
    encoders: Encoders,
    *,
    full: bool = False,
    progress: bool = False,
) -> BuildReport:
    """Index every article under `corpus_dir` into a new version in `data_dir`, then publish it.

    `encoders`: one model, or several (one dense list each, the first the primary)."""
    with reindex_lock(data_dir):
        started = time.monotonic()
        docs, problems = read_documents(Path(corpus_dir), progress=progress)
        if not docs:
            shown = "; ".join(f"{p.path}: {p.reason}" for p in problems[:SKIPPED_SHOWN])
            more = f"; and {len(problems) - SKIPPED_SHOWN} more" if len(problems) > SKIPPED_SHOWN else ""
            reasons = f" (skipped {shown}{more})" if problems else ""
            raise CorpusError(f"No usable articles (.txt, .md, .html) in {printable(str(corpus_dir))}{reasons}.")
        return _build(docs, data_dir, _as_list(encoders), full=full, progress=progress, problems=problems,
                      started=started, cache=VectorCache.in_data_dir(data_dir),
                      corpus=os.path.realpath(corpus_dir))  # fmt: skip


def build_from_documents(
    docs: list[Document], data_dir: Path, encoders: Encoders, *, full: bool = False, progress: bool = False,
    cache: Path | None = None,
) -> BuildReport:
    """Clean, chunk, embed and publish already-read documents (used by evaluation; `cache`:
    a vector cache file to use instead of the data directory's)."""
    with reindex_lock(data_dir):
        return _build(docs, data_dir, _as_list(encoders), full=full, progress=progress, problems=[],
                      started=time.monotonic(), cache=VectorCache(cache) if cache else VectorCache.in_data_dir(data_dir))  # fmt: skip


def _build(
    docs: list[Document],
    data_dir: Path,
    encoders: list[Encoder],
    *,
    full: bool,
    progress: bool,
    problems: list[LoadProblem],
    started: float,
    cache: VectorCache,
    corpus: str = "",
) -> BuildReport:
    live = current_version(data_dir)
    previous = live_meta(live)
    before = read_article_hashes(live / "chunks.sqlite") if live else {}
    boilerplate = repeated_lines(docs) | (read_boilerplate(live / "chunks.sqlite") if live else set())
    articles, empty = clean_loaded(docs, boilerplate)
    problems = problems + empty
    if not articles:
        raise CorpusError("No article has any text left after cleaning.")
    articles = quoted_first(articles, before)
    duplicates: dict[str, str] = {}
    chunks = chunk_articles(articles, duplicates=duplicates)
    langs = [detect_language(c.text) for c in chunks]
    dense, embedded = [], 0
    try:
        for encoder in encoders:
            vectors, count = embed_chunks(chunks, encoder, live, reuse=not full, progress=progress, cache=cache)
            ground, offsets = background(encoder, cache) if model_info(encoder.name).background else ({}, {})
            dense.append((DenseMeta(encoder.name, encoder.dim, offsets), vectors, ground))
            embedded += count
        sentences, sentences_embedded = embed_sentences(chunks, encoders[0], live, reuse=not full, progress=progress, cache=cache)
    finally:
        cache.close()
    folder = write_version(data_dir, articles, chunks, dense, langs=langs, boilerplate=boilerplate, sentences=sentences,
                           corpus=corpus)  # fmt: skip
    now = {a.path: a.source_hash for a in articles}
    return BuildReport(
        articles=len(articles),
        chunks=len(chunks),
        embedded=embedded,
        seconds=round(time.monotonic() - started, 2),
        version=folder.name,
        added=sorted(p for p in now if p not in before),
        changed=sorted(p for p in now if p in before and before[p] != now[p]),
        removed=sorted(p for p in before if p not in now),
        unchanged=sorted(p for p in now if before.get(p) == now[p]),
        problems=problems,
        cleaned=articles,
        duplicates=duplicates,
        sentences_embedded=sentences_embedded,
        notes=[LoadProblem(d.path, note) for d in docs for note in d.notes],
        corpus=corpus,
        previous_corpus=previous.corpus if previous else "",
    )


# a file name that says it is a copy: "palsy-copy.txt", "palsy (2).txt", "副本 palsy.txt", "palsy.bak.txt"
_COPY_NAME = re.compile(r"(?<![a-z])(?:copy|copia|backup|bak|old)(?![a-z])|\(\d+\)|副本|复件|拷贝|备份", re.IGNORECASE)


def quoted_first(articles: list[Article], before: dict[str, str]) -> list[Article]:
    """The articles in the order that decides which of two with the same text is quoted (the
    first, corpus.chunk_articles): one already in the live index before one that is new, then
    one whose name does not say it is a copy; otherwise as they were read (by path). So adding
    a backup copy never takes the quotes away from the article they came from."""
    return sorted(articles, key=lambda a: (a.path not in before, bool(_COPY_NAME.search(Path(a.path).name))))


def write_version(
    data_dir: Path,
    articles: list[Article],
    chunks: list[Chunk],
    dense: list[tuple[DenseMeta, np.ndarray, dict[str, np.ndarray]]],
    *,
    langs: list[str] | None = None,
    boilerplate: set[str] = frozenset(),
    kind: str | None = None,
    timings: dict[str, float] | None = None,
    sentences: list[list[tuple[str, np.ndarray]]] | None = None,
    corpus: str = "",
) -> Path:
    """Write a complete index version (store, dense lists, BM25, meta) beside the live one and publish it.

    `dense`: per model, its description, the chunks' vectors in chunk order and its
    background vectors per language (languages.py; may be empty); the first is the
    primary. `langs`: each chunk's language (default: detected). `sentences`: per chunk, the
    primary model's (hash, vector) of each sentence (embed_sentences), or None.
    `kind` forces the FAISS index type (default: by size); `timings`, when given,
    receives the seconds each part took; `corpus`: the absolute folder the articles were
    read from (remembered in the meta). Returns the new version's folder.
    """
    if not dense:
        raise ValueError("an index needs at least one dense list")
    langs = langs if langs is not None else [detect_language(c.text) for c in chunks]
    folder = new_version_dir(data_dir)
    lap = time.perf_counter()

    def took(part: str) -> None:
        nonlocal lap
        if timings is not None:
            timings[part] = time.perf_counter() - lap
        lap = time.perf_counter()

    try:
        ids = write_store(folder / "chunks.sqlite", articles, chunks, [v for _, v, _ in dense], langs, boilerplate, sentences)
        took("sqlite")
        rows_of = {lang: [i for i, chunk_lang in enumerate(langs) if chunk_lang == lang] for lang in sorted(set(langs))}
        languages = {lang: len(rows) for lang, rows in rows_of.items()}
        for slot, (meta, vectors, ground) in enumerate(dense):
            np.savez(folder / background_file(slot), **ground)
            for lang, rows in rows_of.items():
                kind = write_faiss(folder, [ids[i] for i in rows], vectors[rows], meta.dim, kind,
                                   name=dense_file(slot, lang), total=len(ids))  # fmt: skip
        took("faiss")
        LexicalIndex.build([c.embed_text for c in chunks], langs).save(folder / "bm25")
        took("bm25")
        primary = dense[0][0]
        IndexMeta(model=primary.model, dim=primary.dim, articles=len(articles), chunks=len(chunks), created=utc_stamp(),
                  version=folder.name, kind=kind or "flat", dense=[m for m, _, _ in dense], languages=languages,
                  sentences=primary.model if sentences is not None else "", corpus=corpus).write(folder)  # fmt: skip
        publish(data_dir, folder)
    except BaseException:
        discard(folder)
        raise
    return folder
