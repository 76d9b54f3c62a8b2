"""SQLite beside the FAISS index: chunk text, article metadata and stored vectors.

FAISS holds only ids and vectors; everything a reply shows comes from here. The
FAISS id of a chunk is its integer row id in the `chunks` table. Vectors are kept
too (as float32 blobs, one row per chunk and dense list): relevance needs the
question's cosine with every candidate, including those only BM25 found, and a
rebuild can reuse them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection
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
    lang TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER NOT NULL REFERENCES chunks(id),
    slot INTEGER NOT NULL,  -- the dense list (meta.json "dense", in order)
    vector BLOB NOT NULL,
    PRIMARY KEY (id, slot)  -- looked up by chunk id (a search's candidates)
);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER NOT NULL REFERENCES chunks(id),
    n INTEGER NOT NULL,  -- the sentence's place in the chunk (sentences.units order)
    hash TEXT NOT NULL,  -- of the sentence's text (reused by the next re-index)
    vector BLOB NOT NULL,  -- the primary model's (meta.json "sentences")
    PRIMARY KEY (id, n)
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
    lang: str
    vectors: dict[int, np.ndarray]  # dense list slot -> vector

    @property
    def embed_text(self) -> str:
        from corpus.chunk import embed_text

        return embed_text(self.title, self.heading, self.text)


def write_store(
    path: Path,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: list[np.ndarray],
    langs: list[str],
    boilerplate: set[str] = frozenset(),
    sentences: list[list[tuple[str, np.ndarray]]] | None = None,
) -> list[int]:
    """Create the database at `path` (`vectors`: one array per dense list, rows in chunk
    order; `langs`: each chunk's language; `sentences`: per chunk, the (hash, vector) of each
    of its sentences, or None); returns the integer ids given to `chunks`, in order."""
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
            "INSERT INTO chunks (id, chunk_id, article, title, heading, text, ordinal, content_hash, lang)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i, c.chunk_id, c.article, c.title, c.heading, c.text, c.ordinal, c.content_hash, lang)
                for i, c, lang in zip(ids, chunks, langs)
            ],
        )
        for slot, matrix in enumerate(vectors):
            conn.executemany(
                "INSERT INTO vectors (slot, id, vector) VALUES (?, ?, ?)",
                [(slot, i, np.asarray(v, dtype=np.float32).tobytes()) for i, v in zip(ids, matrix)],
            )
        if sentences is not None:
            conn.executemany(
                "INSERT INTO sentences (id, n, hash, vector) VALUES (?, ?, ?, ?)",
                [(i, n, key, np.asarray(v, dtype=np.float32).tobytes())
                 for i, rows in zip(ids, sentences) for n, (key, v) in enumerate(rows)],  # fmt: skip
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


def read_vectors_by_hash(path: Path, slot: int, dim: int) -> dict[str, np.ndarray]:
    """One dense list's stored vectors keyed by content hash (for reusing embeddings in a rebuild)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT c.content_hash, v.vector FROM chunks c JOIN vectors v ON v.id = c.id WHERE v.slot = ?", (slot,)
        ).fetchall()
    finally:
        conn.close()
    return _by_key(rows, dim)


def read_sentence_vectors(path: Path, dim: int) -> dict[str, np.ndarray]:
    """An index version's sentence vectors keyed by sentence hash (none in an older version)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT hash, vector FROM sentences").fetchall()
    except sqlite3.OperationalError:  # written before sentences were embedded
        return {}
    finally:
        conn.close()
    return _by_key(rows, dim)


def _by_key(rows: list[tuple[str, bytes]], dim: int) -> dict[str, np.ndarray]:
    """(key, float32 blob) rows as vectors by key, leaving out any of another dimension."""
    out = {}
    for key, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        if vector.shape == (dim,):
            out[key] = vector
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
        wanted = [int(i) for i in ids]
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, c.chunk_id, c.article, c.title, c.heading, c.text, a.url, c.lang"
                f" FROM chunks c JOIN articles a ON a.path = c.article WHERE c.id IN ({marks})",
                wanted,
            ).fetchall()
            vectors = self._conn.execute(f"SELECT id, slot, vector FROM vectors WHERE id IN ({marks})", wanted).fetchall()
        out = {row[0]: StoredChunk(*row, vectors={}) for row in rows}
        for row_id, slot, blob in vectors:
            if row_id in out:
                out[row_id].vectors[slot] = np.frombuffer(blob, dtype=np.float32)
        return out

    def sentence_vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        """Each chunk's sentence vectors (rows in sentence order) by integer id; a chunk
        without them (an index built without sentences) is left out."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            try:
                rows = self._conn.execute(
                    f"SELECT id, n, vector FROM sentences WHERE id IN ({marks}) ORDER BY id, n", [int(i) for i in ids]
                ).fetchall()
            except sqlite3.OperationalError:
                return {}
        parts: dict[int, list[np.ndarray]] = {}
        for row_id, _, blob in rows:
            parts.setdefault(row_id, []).append(np.frombuffer(blob, dtype=np.float32))
        return {row_id: np.stack(vectors) for row_id, vectors in parts.items()}

    def articles(self) -> list[tuple[str, str, int]]:
        """(path, title, chunk count) of every indexed article."""
        with self._lock:
            return self._conn.execute("SELECT path, title, chunks FROM articles ORDER BY path").fetchall()

    def article_rows(self) -> list[dict]:
        """Every indexed article as {"path", "title", "url", "chunks"}, by path."""
        with self._lock:
            rows = self._conn.execute("SELECT path, title, url, chunks FROM articles ORDER BY path").fetchall()
        return [{"path": p, "title": t, "url": u, "chunks": n} for p, t, u, n in rows]

    def texts(self, chunk_ids: list[str]) -> dict[str, str]:
        """Chunk text by chunk_id (a hash of article and content: present means unchanged);
        ids no longer in this index are left out."""
        return dict(self._by_chunk_id("SELECT chunk_id, text FROM chunks WHERE chunk_id IN ({})", chunk_ids))

    def articles_of(self, chunk_ids: Collection[str]) -> set[str]:
        """The articles holding these chunks; ids no longer in this index are left out."""
        return {article for (article,) in self._by_chunk_id("SELECT article FROM chunks WHERE chunk_id IN ({})", chunk_ids)}

    def _by_chunk_id(self, sql: str, chunk_ids: Collection[str]) -> list[tuple]:
        """The rows of `sql` (its "{}" is filled with placeholders) for these chunk ids, asked
        500 at a time (SQLite's limit on parameters)."""
        wanted = list(dict.fromkeys(str(c) for c in chunk_ids))
        rows: list[tuple] = []
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            with self._lock:
                rows.extend(self._conn.execute(sql.format(",".join("?" * len(part))), part).fetchall())
        return rows

    def article_text(self, path: str) -> dict | None:
        """One indexed article as {"path", "title", "url", "chunks": [{"heading", "text"}, ...]}
        (its passages in order), or None when it is not in this index."""
        with self._lock:
            row = self._conn.execute("SELECT path, title, url FROM articles WHERE path = ?", (path,)).fetchone()
            if row is None:
                return None
            chunks = self._conn.execute("SELECT heading, text FROM chunks WHERE article = ? ORDER BY ordinal", (path,)).fetchall()
        return {"path": row[0], "title": row[1], "url": row[2], "chunks": [{"heading": h, "text": t} for h, t in chunks]}
