"""Text -> vectors: the sentence-transformers encoder and model resolution."""

from embeddings.encoder import DEFAULT_MODEL, EmbeddingModelError, Encoder, SentenceTransformerEncoder, normalize

__all__ = ["DEFAULT_MODEL", "EmbeddingModelError", "Encoder", "SentenceTransformerEncoder", "normalize"]
