"""SQLite beside the FAISS index: chunk text, article metadata and stored vectors.

FAISS holds only ids and vectors; everything a reply shows comes from here. The
FAISS id of a chunk is its integer row id in the `chunks` table. Vectors are kept
too (as float32 blobs) so that a rebuild can reuse the embeddings of chunks whose
content hash and model have not changed.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.article import Article
from corpus.chunk import Chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    path TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    url TEXT,
    date TEXT,
    lang TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    chunks INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    article TEXT NOT NULL REFERENCES articles(path),
    title TEXT NOT NULL,
    heading TEXT,
    text TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS boilerplate (
    line TEXT PRIMARY KEY  -- comparison key of a line seen on several pages of a site
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(content_hash);
"""


@dataclass
class StoredChunk:
    """A chunk row as read back for a search hit."""

    id: int
    chunk_id: str
    article: str
    title: str
    heading: str | None
    text: str
    url: str | None
    vector: np.ndarray

    @property
    def embed_text(self) -> str:
        from corpus.chunk import embed_text

        return embed_text(self.title, self.heading, self.text)


def write_store(
    path: Path, articles: list[Article], chunks: list[Chunk], vectors: np.ndarray, boilerplate: set[str] = frozenset()
) -> list[int]:
    """Create the database at `path`; returns the integer ids given to `chunks`, in order."""
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.article] = counts.get(chunk.article, 0) + 1
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SCHEMA)
        conn.executemany(
            "INSERT INTO articles (path, title, url, date, lang, source_hash, chunks) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(a.path, a.title, a.url, a.date, a.lang, a.source_hash, counts.get(a.path, 0)) for a in articles],
        )
        conn.executemany("INSERT INTO boilerplate (line) VALUES (?)", [(line,) for line in sorted(boilerplate)])
        ids = list(range(1, len(chunks) + 1))
        conn.executemany(
            "INSERT INTO chunks (id, chunk_id, article, title, heading, text, ordinal, content_hash, vector)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i, c.chunk_id, c.article, c.title, c.heading, c.text, c.ordinal, c.content_hash, v.astype(np.float32).tobytes())
                for i, c, v in zip(ids, chunks, vectors)
            ],
        )
        conn.commit()
    finally:
        conn.close()
    return ids


def read_boilerplate(path: Path) -> set[str]:
    """The boilerplate line keys an index version was cleaned with."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT line FROM boilerplate")}
    except sqlite3.OperationalError:  # a version written before the table existed
        return set()
    finally:
        conn.close()


def read_article_hashes(path: Path) -> dict[str, str]:
    """Article path -> source hash in an index version."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT path, source_hash FROM articles"))
    finally:
        conn.close()


def read_vectors_by_hash(path: Path, dim: int) -> dict[str, np.ndarray]:
    """Stored vectors keyed by content hash (for reusing embeddings in a rebuild)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT content_hash, vector FROM chunks").fetchall()
    finally:
        conn.close()
    out = {}
    for content_hash, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        if vector.shape == (dim,):
            out[content_hash] = vector
    return out


class ChunkStore:
    """Read-only access to an index's database, safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def get(self, ids: list[int]) -> dict[int, StoredChunk]:
        """Chunks by integer id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, c.chunk_id, c.article, c.title, c.heading, c.text, a.url, c.vector"
                f" FROM chunks c JOIN articles a ON a.path = c.article WHERE c.id IN ({marks})",
                [int(i) for i in ids],
            ).fetchall()
        return {row[0]: StoredChunk(*row[:7], np.frombuffer(row[7], dtype=np.float32)) for row in rows}

    def articles(self) -> list[tuple[str, str, int]]:
        """(path, title, chunk count) of every indexed article."""
        with self._lock:
            return self._conn.execute("SELECT path, title, chunks FROM articles ORDER BY path").fetchall()
