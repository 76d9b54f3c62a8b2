"""Every vector ever computed, by model and content hash, in the data directory.

An index version keeps the vectors of its own chunks; this cache keeps them across
versions and configurations, so changing the configured models and re-indexing
(e5 alone, then e5 with m3e-small, then e5 alone again) embeds nothing that was
embedded before. Vectors are written as soon as a batch is embedded, so a
re-index killed half-way resumes where it stopped.

It is only ever a cache: a missing, unreadable or damaged file means "embed
again", never a failed re-index.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FILE = "vectors.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    hash TEXT NOT NULL,  -- content hash of the embedded text (with a "query:" mark for questions)
    vector BLOB NOT NULL,
    PRIMARY KEY (model, hash)
);
"""


class VectorCache:
    """(model, content hash) -> unit vector, in SQLite; never raises for a broken file."""

    def __init__(self, path: Path | None):
        self._conn: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=30)
            self._conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            log.warning("not using the vector cache %s: %s", path, exc)
            self._conn = None

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> VectorCache:
        return cls(Path(data_dir) / FILE)

    def get(self, model: str, dim: int, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors of `model` for those hashes that have one of the right size."""
        if self._conn is None:
            return {}
        wanted = list(dict.fromkeys(hashes))
        out: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})", [model, *part]
                ).fetchall()
                for key, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dim,) and np.isfinite(vector).all():
                        out[key] = vector
        except sqlite3.Error as exc:
            log.warning("vector cache unreadable (%s); embedding again", exc)
            return {}
        return out

    def put(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        """Remember vectors (replacing older ones for the same hash)."""
        if self._conn is None or not vectors:
            return
        try:
            with self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO vectors (model, hash, vector) VALUES (?, ?, ?)",
                    [(model, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in vectors.items()],
                )
        except sqlite3.Error as exc:
            log.warning("could not write the vector cache (%s)", exc)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
