"""sentence-transformers, shared by the torch backend, the ONNX backend's fallback and
the one-time ONNX export. torch and sentence-transformers are imported only when a
model is loaded, so commands that do not embed start instantly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def load_sentence_transformer(location: str, device: str, **kwargs: Any) -> Any:
    """A SentenceTransformer, quietly (no progress bars or notices from transformers)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(location, device=device, **kwargs)


def embedding_dimension(model: Any) -> int:
    """The vector size of a loaded SentenceTransformer (either release's method name)."""
    get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get_dim())


def encode_raw(model: Any, texts: Sequence[str], *, batch_size: int, progress: bool) -> np.ndarray:
    """A SentenceTransformer's vectors for `texts`, not yet normalised."""
    return model.encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=progress,
        convert_to_numpy=True,
        normalize_embeddings=False,
    )
