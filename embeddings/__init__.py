"""Text -> vectors: the encoder protocol, the model and backend registry, and loading."""

from embeddings.base import EmbeddingModelError, Encoder, normalize
from embeddings.registry import (
    BACKENDS,
    DEFAULT_MODEL,
    ModelInfo,
    load_encoder,
    model_info,
    resolve_model,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "EmbeddingModelError",
    "Encoder",
    "ModelInfo",
    "load_encoder",
    "model_info",
    "normalize",
    "resolve_model",
]
