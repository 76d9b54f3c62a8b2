"""The `torch` backend: a sentence-transformers model run by PyTorch on the CPU."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.base import loader_errors, normalize
from embeddings.st_model import (
    embedding_dimension,
    encode_raw,
    load_sentence_transformer,
)


class TorchEncoder:
    """A sentence-transformers model on the CPU, loaded once from a local folder."""

    backend = "torch"

    def __init__(
        self,
        name: str,
        location: Path | str,
        *,
        query_prefix: str = "",
        cache_dir: Path | str | None = None,  # unused: torch reads the model where it is
        device: str = "cpu",
    ):
        self.name = name
        self.query_prefix = query_prefix
        # One encode at a time: the fast tokenizer is not safe to share between threads
        # ("Already borrowed"), and two cores gain nothing from parallel encodes anyway.
        self._lock = threading.Lock()
        with loader_errors(name, location):
            self._model = load_sentence_transformer(str(location), device)
        self.dim = embedding_dimension(self._model)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = encode_raw(self._model, texts, batch_size=batch_size, progress=progress)
        return normalize(vectors)
