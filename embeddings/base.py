"""What every embedding backend provides: the `Encoder` protocol, its one error type,
and the normalisation all backends apply to their vectors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np


class EmbeddingModelError(Exception):
    """The configured model cannot be found or loaded."""


class Encoder(Protocol):
    """What the index and search need from an embedding model."""

    name: str
    dim: int
    query_prefix: str  # put in front of questions (not passages) by the searcher

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed texts (passages) into an (n, dim) float32 array of unit vectors."""
        ...

    # Optional: `encode_queries(texts) -> array`, for models that embed questions
    # differently from passages (e5's "query: " instruction); see `encode_queries` below.


class EncoderFactory(Protocol):
    """How a backend loads a model that `registry.resolve_model` has already found."""

    def __call__(
        self, name: str, location: Path | str, *, query_prefix: str, cache_dir: Path | str | None, device: str
    ) -> Encoder:
        """Load the model at `location` (configured as `name`) with this backend."""
        ...


def encode_queries(encoder: Encoder, texts: Sequence[str], *, batch_size: int = 16) -> np.ndarray:
    """Questions as unit vectors: the encoder's own `encode_queries` when it has one,
    otherwise its `query_prefix` in front of each question."""
    own = getattr(encoder, "encode_queries", None)
    if own is not None:
        return own(list(texts))
    return encoder.encode([encoder.query_prefix + t for t in texts], batch_size=batch_size)


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero) as contiguous float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


@contextmanager
def loader_errors(name: str, location: Path | str) -> Iterator[None]:
    """Turn any loader failure into the one-sentence `EmbeddingModelError` the user sees."""
    try:
        yield
    except EmbeddingModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any loader failure is the same one sentence to the user
        raise EmbeddingModelError(f"Cannot load the embedding model {name!r} from {location}: {exc}") from exc
