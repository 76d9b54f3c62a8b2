"""The `onnx` and `onnx-int8` backends: a model exported once to ONNX (optionally with
dynamic int8 quantisation for this CPU) and run with onnxruntime, without torch.

The export (embeddings/export.py) runs in a child process into a cache folder;
later starts only load the saved files. embeddings/onnx_runtime.py runs the graph;
models it cannot run (a Dense module, say) fall back to sentence-transformers' own
ONNX backend on the same exported file.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.base import EmbeddingModelError, loader_errors, normalize
from embeddings.onnx_runtime import OnnxRunner, UnsupportedModel
from embeddings.st_model import (
    embedding_dimension,
    encode_raw,
    load_sentence_transformer,
)

ONNX_BACKENDS = ("onnx", "onnx-int8")
EXPORT_TIMEOUT = 1800  # seconds; a small model exports in about 15


@functools.lru_cache(maxsize=1)
def quantization_target() -> str:
    """The int8 kernel family of this CPU, as sentence-transformers names its quantisation configs.

    Signed int8 weights (avx512_vnni, avx512, arm64) run about twice as fast as the
    unsigned AVX2 ones where the CPU has the instructions for them; AVX2 is the safe
    default for any other x86-64 CPU.
    """
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "arm64"
    try:
        flags = set(re.findall(r"^flags\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)[0].split())
    except (OSError, IndexError):
        return "avx2"
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if {"avx512f", "avx512bw"} <= flags:
        return "avx512"
    return "avx2"


def onnx_file(backend: str) -> str:
    """The model file of an ONNX backend inside its exported folder."""
    if backend == "onnx":
        return "onnx/model.onnx"
    target = quantization_target()
    return f"onnx/model_{'quint8' if target == 'avx2' else 'qint8'}_{target}.onnx"


def onnx_model_dir(location: Path | str, cache_dir: Path, name: str, backend: str) -> Path:
    """An ONNX (optionally int8-quantised) copy of a model, exported once into `cache_dir`.

    The export (sentence-transformers with optimum, locally, nothing downloaded;
    see embeddings/export.py) runs in a child process, so the process that serves
    questions never imports torch; later starts only load the saved files.
    """
    suffix = backend if backend == "onnx" else f"{backend}-{quantization_target()}"
    target = Path(cache_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}-{suffix}"
    if (target / onnx_file(backend)).is_file():
        return target
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "embeddings.export", str(location), str(target), backend, quantization_target()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=EXPORT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise EmbeddingModelError(f"Exporting {name} to ONNX ({backend}) took over {EXPORT_TIMEOUT} s; gave up.") from None
    if done.returncode != 0 or not (target / onnx_file(backend)).is_file():
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EmbeddingModelError(f"Cannot export {name} to ONNX ({backend}): {detail}")
    return target


class OnnxEncoder:
    """A model exported to ONNX ("onnx") or int8-quantised ONNX ("onnx-int8"), run without torch."""

    def __init__(
        self,
        name: str,
        location: Path | str,
        *,
        backend: str = "onnx-int8",
        query_prefix: str = "",
        cache_dir: Path | str | None = None,
        device: str = "cpu",
    ):
        if backend not in ONNX_BACKENDS:
            raise EmbeddingModelError(f"Unknown ONNX backend {backend!r}; use one of {', '.join(ONNX_BACKENDS)}.")
        self.name = name
        self.backend = backend
        self.query_prefix = query_prefix
        # One encode at a time: the fast tokenizer is not safe to share between threads
        # ("Already borrowed"), and two cores gain nothing from parallel encodes anyway.
        self._lock = threading.Lock()
        self._runner: OnnxRunner | None = None
        self._model = None  # sentence-transformers' ONNX backend, for models the runner cannot run
        with loader_errors(name, location):
            folder = onnx_model_dir(location, Path(cache_dir or Path(tempfile.gettempdir()) / "articlebot-models"), name, backend)
            try:
                self._runner = OnnxRunner(folder, onnx_file(backend), one_at_a_time=backend == "onnx-int8")
            except UnsupportedModel:  # e.g. a Dense module: let sentence-transformers run the graph
                self._model = load_sentence_transformer(str(folder), device, backend="onnx", model_kwargs={"file_name": onnx_file(backend)})
            except Exception as exc:  # noqa: BLE001
                raise EmbeddingModelError(
                    f"Cannot load the exported model in {folder} ({exc}); delete that folder to export it again."
                ) from exc
        self.dim = self._runner.dim if self._runner is not None else embedding_dimension(self._model)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._runner is not None:
                return normalize(self._runner.encode(list(texts), batch_size=batch_size, progress=progress))
            vectors = encode_raw(self._model, texts, batch_size=batch_size, progress=progress)
        return normalize(vectors)
