"""The on-disk index: a FAISS inner-product index of unit vectors plus its SQLite store.

Layout of the data directory::

    data/
      CURRENT                  the name of the live version (replaced atomically)
      vectors.sqlite           every vector ever computed, by model and content hash
                               (see vectorcache.py): a re-index embeds only new text
      index-<stamp>/           one complete version
        meta.json              models (one dense list each), dimensions, languages, counts,
                               the article folder it was built from
        dense-<n>-<lang>.faiss the n-th model's vectors of the chunks in one language:
                               IndexIDMap2(IndexFlatIP or HNSW), FAISS ids = chunk row ids
        chunks.sqlite          text, metadata and vectors (see store.py)
        bm25/                  the lexical index over the same chunks (see lexical.py)

A build writes a new version folder in full, then replaces CURRENT with
``os.replace``: a reader sees the old version or the new one, never half of one,
and a crash mid-build leaves the old version serving. Older versions beyond the
previous one are removed.

Several models. An index holds one dense list per configured model (the first is
the primary: its cosine is what the refusal threshold applies to). It remembers
them; loading it for a model it does not hold fails with one sentence that says
how to rebuild (vectors from two models are not comparable).

Background. A cosine is scored against the question's similarity to unrelated
reference text in the passage's language (languages.py): cos - q . background.
A multilingual model scores passages in the question's own language higher, so
each language's chunks are searched on their own (one FAISS file per language)
and the lists are merged on that corrected score.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from common.clock import utc_stamp
from retrieval.lexical import LexicalIndex
from retrieval.store import ChunkStore

FORMAT = 3  # 2: a BM25 index (bm25/) beside the vectors; 3: several dense lists, one FAISS file per language
POINTER = "CURRENT"


class IndexProblem(Exception):
    """Base for index problems a user can act on."""


class IndexMissingError(IndexProblem):
    """No index has been built in the data directory."""


class IndexMismatchError(IndexProblem):
    """The index was built by a different embedding model."""


@dataclass
class DenseMeta:
    """One dense list: its model, dimension and the cross-language offsets left once
    scores are taken above the background ("en>zh": added to a Chinese passage's
    score for an English question; languages.py)."""

    model: str
    dim: int
    offsets: dict[str, float] = field(default_factory=dict)

    def offset(self, question_lang: str, passage_lang: str) -> float:
        return 0.0 if question_lang == passage_lang else self.offsets.get(f"{question_lang}>{passage_lang}", 0.0)


def background_file(slot: int) -> str:
    """The per-language background vectors of one dense list (see languages.py)."""
    return f"dense-{slot}-background.npz"


@dataclass
class IndexMeta:
    """What is stored beside the vectors."""

    model: str  # the primary model (the first dense list)
    dim: int
    articles: int
    chunks: int
    created: str
    version: str
    format: int = FORMAT
    kind: str = "flat"  # FAISS index type: "flat" (exact) or "hnsw"
    dense: list[DenseMeta] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)  # chunks per language
    sentences: str = ""  # the model whose sentence vectors the store holds ("": none; sentences.py)
    corpus: str = ""  # the absolute article folder it was built from ("": not known; /reindex uses it)

    @classmethod
    def read(cls, folder: Path) -> IndexMeta:
        # surrogateescape: a folder name that is not UTF-8 comes back byte for byte
        data = json.loads((folder / "meta.json").read_text("utf-8", errors="surrogateescape"))
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["dense"] = [DenseMeta(**d) for d in known.get("dense", [])]
        return cls(**known)

    @property
    def models(self) -> list[str]:
        return [d.model for d in self.dense]

    def write(self, folder: Path) -> None:
        data = dict(self.__dict__, dense=[d.__dict__ for d in self.dense])
        (folder / "meta.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), "utf-8", errors="surrogateescape")


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


def dense_file(slot: int, lang: str) -> str:
    """The FAISS file of one model's (slot's) vectors of the chunks in one language."""
    return f"dense-{slot}-{lang}.faiss"


def write_faiss(folder: Path, ids: list[int], vectors: np.ndarray, dim: int, kind: str | None = None,
                name: str = "vectors.faiss", total: int | None = None) -> str:
    """Write the vectors, keyed by chunk row id, into `folder`/`name`; returns the index kind
    (chosen by `total`, the size of the whole index, when given)."""
    import faiss

    kind = kind or ("hnsw" if (total if total is not None else len(ids)) >= HNSW_FROM_CHUNKS else "flat")
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    faiss.write_index(index, str(folder / name))
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


def check_models(meta: IndexMeta, models: list[str], data_dir: Path) -> None:
    """Fail with one sentence when a configured model has no dense list in the index."""
    missing = [m for m in models if m not in meta.models]
    if missing:
        raise IndexMismatchError(
            f"The index in {data_dir} was built with the model{'s' if len(meta.models) > 1 else ''}"
            f" {', '.join(map(repr, meta.models))}, not the configured {', '.join(map(repr, missing))};"
            f" rebuild it with `articlebot index` (or set ARTICLEBOT_MODEL={','.join(meta.models)})."
        )


class DenseList:
    """One model's vectors, one FAISS index per language, scored above the language's background."""

    def __init__(self, meta: DenseMeta, parts: dict[str, object], background: dict[str, np.ndarray]):
        self.meta = meta
        self.parts = parts  # language -> FAISS index
        self.background = background  # language -> mean reference vector (languages.py)

    def baseline(self, query: np.ndarray, lang: str, question_lang: str) -> float:
        """What an unrelated passage in `lang` scores for this question (0 without a background),
        less the offset for a passage in another language than the question's."""
        vector = self.background.get(lang)
        ground = float(query @ vector) if vector is not None else 0.0
        return ground - self.meta.offset(question_lang, lang)

    @property
    def ntotal(self) -> int:
        return sum(p.ntotal for p in self.parts.values())

    def search(self, query: np.ndarray, k: int, question_lang: str) -> list[tuple[int, float]]:
        """(chunk row id, cosine - the background of its language) of the k best chunks, best first."""
        found: list[tuple[int, float]] = []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        for lang, part in self.parts.items():
            if part.ntotal == 0:
                continue
            scores, ids = part.search(q, min(k, part.ntotal))
            shift = self.baseline(query, lang, question_lang)
            found += [(int(i), float(s) - shift) for i, s in zip(ids[0], scores[0]) if i >= 0]
        return sorted(found, key=lambda item: -item[1])[:k]


class Index:
    """A loaded, read-only index version: the dense lists (FAISS), BM25 and the chunk store."""

    def __init__(self, folder: Path, meta: IndexMeta, dense: list[DenseList], store: ChunkStore, lexical: LexicalIndex):
        self.folder = folder
        self.meta = meta
        self.dense = dense
        self.store = store
        self.lexical = lexical

    @classmethod
    def load(cls, data_dir: Path, model: str | list[str] | tuple[str, ...] | None = None) -> Index:
        """Open the live index; every model in `model` (when given) must have a dense list in it."""
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
        check_models(meta, [model] if isinstance(model, str) else list(model or []), data_dir)
        dense = []
        for slot, dmeta in enumerate(meta.dense):
            parts = {}
            for lang in meta.languages:
                path = folder / dense_file(slot, lang)
                # Memory-mapped: the vectors stay in the page cache, shared between processes.
                # Never add to an index loaded this way (FAISS aborts); versions are read-only.
                part = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
                inner = faiss.downcast_index(part.index) if hasattr(part, "index") else part
                if hasattr(inner, "hnsw"):
                    inner.hnsw.efSearch = HNSW_EF_SEARCH
                if part.d != dmeta.dim:
                    raise IndexMismatchError(f"The index in {data_dir} is damaged ({path.name}: dimension {part.d} != {dmeta.dim}); rebuild it with `articlebot index --full`.")
                parts[lang] = part
            bg_path = folder / background_file(slot)
            background = {}
            if bg_path.is_file():
                with np.load(bg_path) as stored:
                    background = {lang: stored[lang].astype(np.float32) for lang in stored.files if stored[lang].shape == (dmeta.dim,)}
            dense.append(DenseList(dmeta, parts, background))
        return cls(folder, meta, dense, ChunkStore(folder / "chunks.sqlite"), LexicalIndex.load(folder / "bm25"))

    def slot(self, model: str) -> int:
        """The position of a model's dense list."""
        return self.meta.models.index(model)

    def check_encoder(self, dim: int, model: str | None = None) -> None:
        """Fail clearly if the index has no list for `model`, or if an encoder's dimension
        does not match its dense list."""
        if model is not None:
            check_models(self.meta, [model], self.folder.parent)
        expected = self.meta.dense[self.slot(model)].dim if model is not None else self.meta.dim
        if dim != expected:
            raise IndexMismatchError(
                f"The index has {expected}-dimensional vectors but the model gives {dim};"
                " rebuild it with `articlebot index --full`."
            )

    def search(self, query: np.ndarray, k: int, *, slot: int = 0, lang: str = "zh") -> list[tuple[int, float]]:
        """(chunk row id, cosine above the background) of the k nearest chunks in one dense list
        for a question in `lang`."""
        return self.dense[slot].search(query, k, lang)

    def close(self) -> None:
        self.store.close()
