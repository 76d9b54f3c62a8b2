"""The on-disk index: a FAISS inner-product index of unit vectors plus its SQLite store.

Layout of the data directory::

    data/
      CURRENT                  the name of the live version (replaced atomically)
      index-<stamp>/           one complete version
        meta.json              model name, dimension, counts, build time
        vectors.faiss          IndexIDMap2(IndexFlatIP): FAISS ids are chunk row ids
        chunks.sqlite          text and metadata (see store.py)
        bm25/                  the lexical index over the same chunks (see lexical.py)

A build writes a new version folder in full, then replaces CURRENT with
``os.replace``: a reader sees the old version or the new one, never half of one,
and a crash mid-build leaves the old version serving. Older versions beyond the
previous one are removed.

An index remembers the model that built it; loading it with another model fails
with one sentence that says how to rebuild (vectors from two models are not
comparable).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from common.clock import utc_stamp
from retrieval.lexical import LexicalIndex
from retrieval.store import ChunkStore

FORMAT = 2  # 2: a BM25 index (bm25/) beside the vectors
POINTER = "CURRENT"


class IndexProblem(Exception):
    """Base for index problems a user can act on."""


class IndexMissingError(IndexProblem):
    """No index has been built in the data directory."""


class IndexMismatchError(IndexProblem):
    """The index was built by a different embedding model."""


@dataclass
class IndexMeta:
    """What is stored beside the vectors."""

    model: str
    dim: int
    articles: int
    chunks: int
    created: str
    version: str
    format: int = FORMAT
    kind: str = "flat"  # FAISS index type: "flat" (exact) or "hnsw"

    @classmethod
    def read(cls, folder: Path) -> IndexMeta:
        data = json.loads((folder / "meta.json").read_text("utf-8"))
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def write(self, folder: Path) -> None:
        (folder / "meta.json").write_text(json.dumps(self.__dict__, indent=2, ensure_ascii=False), "utf-8")


def current_version(data_dir: Path) -> Path | None:
    """The folder of the live index version, or None when there is none."""
    pointer = Path(data_dir) / POINTER
    try:
        name = pointer.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    folder = Path(data_dir) / name
    return folder if (folder / "meta.json").is_file() else None


def new_version_dir(data_dir: Path) -> Path:
    """A fresh, empty folder for a version being built (not yet live)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = data_dir / f"index-{stamp}-{os.getpid()}"
    folder.mkdir()
    return folder


# Index type by size. Exact (flat) search is cheap below this many chunks and has
# perfect recall; above it, HNSW keeps a question's search time nearly flat as the
# corpus grows (see bench/bench.py for the figures this was chosen on). HNSW cannot
# delete ids, which never matters here: every re-index writes a new version.
HNSW_FROM_CHUNKS = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def write_faiss(folder: Path, ids: list[int], vectors: np.ndarray, dim: int, kind: str | None = None) -> str:
    """Write the vectors, keyed by chunk row id, into `folder`/vectors.faiss; returns the index kind."""
    import faiss

    kind = kind or ("hnsw" if len(ids) >= HNSW_FROM_CHUNKS else "flat")
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    faiss.write_index(index, str(folder / "vectors.faiss"))
    return kind


def publish(data_dir: Path, folder: Path) -> None:
    """Make `folder` the live version (atomic rename of the pointer), then remove every
    other version but the one it replaces (a bot may still be answering from that one),
    including half-written folders left by a build that was killed."""
    data_dir = Path(data_dir)
    previous = current_version(data_dir)
    tmp = data_dir / f"{POINTER}.{os.getpid()}.tmp"
    tmp.write_text(folder.name + "\n", "utf-8")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, data_dir / POINTER)
    keep = {folder, previous}
    for old in data_dir.glob("index-*"):
        if old.is_dir() and old not in keep:
            shutil.rmtree(old, ignore_errors=True)


class ReindexRunning(IndexProblem):
    """Another process is re-indexing the same data directory."""


def check_reindex_lock(data_dir: Path) -> None:
    """Fail early (before loading a model) when another re-index holds the lock."""
    if (Path(data_dir) / "reindex.lock").exists():
        with reindex_lock(data_dir):
            pass


@contextmanager
def reindex_lock(data_dir: Path):
    """Hold the data directory's re-index lock, or fail saying which process holds it.

    An flock on `reindex.lock`: the kernel releases it when the holder exits, even
    on SIGKILL, so a crash never leaves a stale lock behind.
    """
    import fcntl

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(data_dir / "reindex.lock", "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise ReindexRunning(f"Another re-index of {data_dir} is running ({holder}); wait for it to finish.") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {utc_stamp()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


def discard(folder: Path) -> None:
    """Remove a version folder that was never published."""
    shutil.rmtree(folder, ignore_errors=True)


class Index:
    """A loaded, read-only index version: FAISS vectors plus the chunk store."""

    def __init__(self, folder: Path, meta: IndexMeta, faiss_index, store: ChunkStore, lexical: LexicalIndex):
        self.folder = folder
        self.meta = meta
        self.faiss = faiss_index
        self.store = store
        self.lexical = lexical

    @classmethod
    def load(cls, data_dir: Path, model: str | None = None) -> Index:
        """Open the live index; `model` (when given) must be the one that built it."""
        import faiss

        folder = current_version(data_dir)
        if folder is None:
            raise IndexMissingError(f"No index in {data_dir}; run `articlebot index` first.")
        meta = IndexMeta.read(folder)
        if meta.format != FORMAT:
            raise IndexMismatchError(
                f"The index in {data_dir} has format {meta.format}, this version reads {FORMAT};"
                " rebuild it with `articlebot index --full`."
            )
        if model is not None and meta.model != model:
            raise IndexMismatchError(
                f"The index in {data_dir} was built with the model {meta.model!r}, not the configured"
                f" {model!r}; rebuild it with `articlebot index --full` (or set ARTICLEBOT_MODEL={meta.model})."
            )
        # Memory-mapped: the vectors stay in the page cache, shared between processes.
        # Never add to an index loaded this way (FAISS aborts); versions are read-only.
        vectors = faiss.read_index(str(folder / "vectors.faiss"), faiss.IO_FLAG_MMAP_IFC)
        inner = faiss.downcast_index(vectors.index) if hasattr(vectors, "index") else vectors
        if hasattr(inner, "hnsw"):
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        if vectors.d != meta.dim:
            raise IndexMismatchError(f"The index in {data_dir} is damaged (dimension {vectors.d} != {meta.dim}); rebuild it with `articlebot index --full`.")
        return cls(folder, meta, vectors, ChunkStore(folder / "chunks.sqlite"), LexicalIndex.load(folder / "bm25"))

    def check_encoder(self, dim: int) -> None:
        """Fail clearly if an encoder's dimension does not match the index."""
        if dim != self.meta.dim:
            raise IndexMismatchError(
                f"The index has {self.meta.dim}-dimensional vectors but the model gives {dim};"
                " rebuild it with `articlebot index --full`."
            )

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk row id, inner product) of the k nearest vectors to one unit query vector."""
        if self.faiss.ntotal == 0:
            return []
        k = min(k, self.faiss.ntotal)
        scores, ids = self.faiss.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def close(self) -> None:
        self.store.close()
