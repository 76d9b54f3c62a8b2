"""The embedding backends: torch, ONNX and int8-quantised ONNX give the same vectors."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import EmbeddingModelError, SentenceTransformerEncoder

TEXTS = ["打瘦脸针后面瘫多久能恢复？", "长期注射肉毒素可能出现肌肉萎缩、抗体产生等副作用。", "Facial nerve palsy massage treatment"]


def test_vectors_are_unit_float32(m3e):
    vectors = m3e.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (3, m3e.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert m3e.encode([]).shape == (0, m3e.dim)


@pytest.mark.parametrize("backend,least", [("onnx", 0.999), ("onnx-int8", 0.98)])
def test_onnx_backends_agree_with_torch(m3e, tmp_path, backend, least):
    encoder = SentenceTransformerEncoder("m3e-small", backend=backend, cache_dir=tmp_path)
    assert encoder.dim == m3e.dim and encoder.backend == backend
    cosines = np.sum(encoder.encode(TEXTS) * m3e.encode(TEXTS), axis=1)
    assert cosines.min() >= least
    exported = list(tmp_path.iterdir())
    assert len(exported) == 1 and (exported[0] / "onnx").is_dir()  # exported once, kept for the next start
    again = SentenceTransformerEncoder("m3e-small", backend=backend, cache_dir=tmp_path)
    assert np.allclose(again.encode(TEXTS), encoder.encode(TEXTS), atol=1e-5)


def test_unknown_backend_is_one_sentence():
    with pytest.raises(EmbeddingModelError, match="Unknown embedding backend"):
        SentenceTransformerEncoder("m3e-small", backend="tpu")
