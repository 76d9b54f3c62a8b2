"""The embedding backends: torch, ONNX and int8-quantised ONNX give the same vectors;
the ONNX ones run without torch; the model registry's facts hold for the real models
and set the configuration's defaults; only entry points write the environment;
concurrent questions are embedded in shared batches."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import embeddings
from bot.config import Config
from embeddings import (
    BACKENDS,
    EmbeddingModelError,
    load_encoder,
    model_info,
    resolve_model,
)
from embeddings.batching import QueryBatcher
from embeddings.onnx_backend import onnx_file, onnx_model_dir, quantization_target
from embeddings.registry import KNOWN_MODELS

TEXTS = ["打瘦脸针后面瘫多久能恢复？", "长期注射肉毒素可能出现肌肉萎缩、抗体产生等副作用。", "Facial nerve palsy massage treatment"]


def test_vectors_are_unit_float32(m3e):
    vectors = m3e.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (3, m3e.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert m3e.encode([]).shape == (0, m3e.dim)


@pytest.mark.parametrize("backend,least", [("onnx", 0.999), ("onnx-int8", 0.98)])
def test_onnx_backends_agree_with_torch(m3e, tmp_path, backend, least):
    encoder = load_encoder("m3e-small", backend=backend, cache_dir=tmp_path)
    assert encoder.dim == m3e.dim and encoder.backend == backend
    cosines = np.sum(encoder.encode(TEXTS) * m3e.encode(TEXTS), axis=1)
    assert cosines.min() >= least
    exported = list(tmp_path.iterdir())
    assert len(exported) == 1 and (exported[0] / onnx_file(backend)).is_file()  # exported once, kept for the next start
    again = load_encoder("m3e-small", backend=backend, cache_dir=tmp_path)
    assert np.allclose(again.encode(TEXTS), encoder.encode(TEXTS), atol=1e-5)


def test_unknown_backend_is_one_sentence():
    with pytest.raises(EmbeddingModelError, match="Unknown embedding backend"):
        load_encoder("m3e-small", backend="tpu")


LONG = "长期注射肉毒素可能出现肌肉萎缩、抗体产生等副作用，" * 40  # beyond the 512-token limit: truncated alike


def test_onnx_runner_gives_sentence_transformers_vectors(tmp_path):
    """Our onnxruntime path and sentence-transformers' own ONNX backend, same exported file."""
    from sentence_transformers import SentenceTransformer

    encoder = load_encoder("m3e-small", backend="onnx-int8", cache_dir=tmp_path)
    assert encoder._runner is not None  # the torch-free path, not the fallback
    folder = onnx_model_dir(resolve_model("m3e-small"), tmp_path, "m3e-small", "onnx-int8")
    reference = SentenceTransformer(str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": onnx_file("onnx-int8")})
    texts = [*TEXTS, LONG, "", "🙂 Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ"]
    ours = encoder.encode(texts)
    theirs = np.concatenate([reference.encode([t], normalize_embeddings=True) for t in texts])
    assert np.allclose(ours, theirs, atol=1e-5)
    # Int8 activations are quantised per run: the runner embeds one text per run so that
    # a text's vector never depends on what else is embedded with it.
    assert np.allclose(encoder.encode(texts[::-1], batch_size=3)[::-1], ours, atol=1e-6)
    assert np.allclose(encoder.encode([LONG]), ours[3], atol=1e-6)


def test_onnx_backend_serves_without_torch(tmp_path):
    """The export needs torch (in a child process, once); answering questions never loads it."""
    code = (
        "import sys\n"
        "from embeddings import load_encoder\n"
        "e = load_encoder('m3e-small', backend='onnx-int8', cache_dir=sys.argv[1])\n"
        "print(e.encode(['打瘦脸针后面瘫多久能恢复？']).shape, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    for _ in range(2):  # first run exports, second only loads
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["(1,", "512)", "False", "False"]


def test_quantisation_follows_the_cpu():
    assert quantization_target() in ("avx2", "avx512", "avx512_vnni", "arm64")
    flags = open("/proc/cpuinfo").read()
    if " avx512_vnni" in flags:
        assert onnx_file("onnx-int8") == "onnx/model_qint8_avx512_vnni.onnx"
    elif " avx2" in flags and " avx512bw" not in flags:
        assert onnx_file("onnx-int8") == "onnx/model_quint8_avx2.onnx"


def test_a_failed_export_is_one_sentence(tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(EmbeddingModelError, match="Cannot export"):
        load_encoder(str(broken), backend="onnx", cache_dir=tmp_path / "cache")


BGE_ZH = "为这个句子生成表示以用于检索相关文章："
BGE_EN = "Represent this sentence for searching relevant passages: "


def test_registered_dimensions_are_those_of_the_real_models(m3e):
    for info in KNOWN_MODELS:
        encoder = m3e if info.name == "m3e-small" else load_encoder(info.name, backend="torch")
        assert encoder.dim == info.dim, info.name
        assert all(model_info(alias) is info for alias in info.aliases)


def test_registry_knows_licences_and_admits_what_it_does_not_know():
    assert model_info("m3e-small").licence == "non-commercial (m3e licence)"
    assert model_info("sentence-transformers/all-MiniLM-L6-v2").licence == "Apache-2.0"
    other = model_info("/models/my-own-model")
    assert (other.name, other.dim, other.min_score, other.packaged) == ("/models/my-own-model", None, 0.6, False)
    assert other.licence == "unknown: check the model's own licence"


@pytest.mark.parametrize(
    "model,prefix,threshold",
    [
        (None, "", 0.057),  # the default model, multilingual-e5-small
        ("m3e-small", "", 0.85),
        ("moka-ai/m3e-small", "", 0.85),  # an alias names the same model
        ("all-MiniLM-L6-v2", "", 0.6),
        ("sentence-transformers/all-MiniLM-L6-v2", "", 0.6),
        ("BAAI/bge-small-zh-v1.5", BGE_ZH, 0.6),
        ("BAAI/bge-small-en-v1.5", BGE_EN, 0.6),
        ("/models/my-own-model", "", 0.6),
    ],
)
def test_config_takes_prefix_and_threshold_from_the_registry(monkeypatch, model, prefix, threshold):
    if model is not None:
        monkeypatch.setenv("ARTICLEBOT_MODEL", model)
    config = Config.from_env()
    assert (config.model, config.query_prefix, config.min_score) == (model_info(model or "multilingual-e5-small").name, prefix, threshold)
    monkeypatch.setenv("ARTICLEBOT_QUERY_PREFIX", "query: ")
    monkeypatch.setenv("ARTICLEBOT_MIN_SCORE", "0.7")
    config = Config.from_env()
    assert (config.query_prefix, config.min_score) == ("query: ", 0.7)
    for blank in ("none", "None", ""):  # an explicit "no prefix"; an empty threshold is the default
        monkeypatch.setenv("ARTICLEBOT_QUERY_PREFIX", blank)
        monkeypatch.setenv("ARTICLEBOT_MIN_SCORE", "")
        config = Config.from_env()
        assert (config.query_prefix, config.min_score) == ("", threshold)


def test_load_encoder_gives_the_registered_prefix_unless_told(m3e, tmp_path):
    assert m3e.query_prefix == ""
    folder = tmp_path / "my-bge-zh"  # any model named like a bge one gets the bge instruction
    folder.symlink_to(resolve_model("m3e-small"), target_is_directory=True)
    assert load_encoder(str(folder), backend="torch").query_prefix == BGE_ZH


@pytest.mark.parametrize("backend", ["tpu", "ONNX", "int8"])
def test_unknown_backends_are_refused_before_loading(backend):
    assert list(BACKENDS) == ["torch", "onnx", "onnx-int8"]
    with pytest.raises(EmbeddingModelError, match=r"^Unknown embedding backend .*; use one of torch, onnx, onnx-int8\.$"):
        load_encoder("no-such-model", backend=backend)  # the backend is checked first


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (isinstance(node, ast.Name) and node.id == "environ")


def _writes_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("putenv", "unsetenv"):
            return True
        mutators = ("setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__")
        return node.func.attr in mutators and _is_environ(node.func.value)
    targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [getattr(node, "target", None)]
    return isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)) and any(
        isinstance(t, ast.Subscript) and _is_environ(t.value) for t in targets
    )


def test_only_the_export_command_writes_the_environment():
    """Environment variables are set by entry points, never by the library below them."""
    writes = set()
    for path in Path(embeddings.__file__).parent.rglob("*.py"):

        def visit(node: ast.AST, function: str) -> None:
            for child in ast.iter_child_nodes(node):
                if _writes_environment(child):
                    writes.add((path.name, function))
                inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
                visit(child, inner)

        visit(ast.parse(path.read_text("utf-8")), "<module>")
    assert writes == {("export.py", "main")}


class SlowEncoder:
    """Records the batches it is given; each run takes a while, like a real model."""

    name, dim, query_prefix = "slow", 4, ""

    def __init__(self, fail_on: str | None = None, slow: str | None = None):
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.slow = slow  # a text whose batch takes long (so that others queue behind it)

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False):
        self.batches.append(list(texts))
        time.sleep(1.0 if self.slow in texts else 0.05)
        if self.fail_on in texts:
            raise RuntimeError("model failed")
        return np.array([[len(t), 1, 0, 0] for t in texts], dtype=np.float32)


def ask_together(batcher: QueryBatcher, texts: list[str]) -> dict[str, object]:
    results: dict[str, object] = {}
    start = threading.Barrier(len(texts))

    def ask(text):
        start.wait()
        try:
            results[text] = batcher.encode_one(text)
        except RuntimeError as exc:
            results[text] = exc

    threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return results


def test_questions_asked_together_share_batches():
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder)
    texts = ["问" * n for n in range(1, 31)]
    results = ask_together(batcher, texts)
    assert all(results[t][0] == len(t) for t in texts)  # everyone gets their own vector
    assert sorted(t for b in encoder.batches for t in b) == sorted(texts)  # each embedded once
    assert len(encoder.batches) < len(texts) / 3 and batcher.largest > 1
    assert batcher.encode_one("单独")[0] == 2 and encoder.batches[-1] == ["单独"]  # idle again: at once, alone


def test_a_text_the_model_cannot_embed_fails_only_its_own_question():
    encoder = SlowEncoder(fail_on="坏", slow="先")
    batcher = QueryBatcher(encoder)
    first = threading.Thread(target=batcher.encode_one, args=("先",))
    first.start()  # the model is busy with it for a second: the others queue up and go together
    time.sleep(0.2)
    results = ask_together(batcher, ["坏", *("问" * n for n in range(1, 10))])
    first.join(timeout=30)
    failed = {t for t, r in results.items() if isinstance(r, RuntimeError)}
    assert failed == {"坏"}  # the others in its batch were embedded again, each alone
    assert any("坏" in b and len(b) > 1 for b in encoder.batches)  # it did share a batch
    assert all(results[t][0] == len(t) for t in results if t != "坏")
    assert batcher.encode_one("好的")[0] == 2  # and it keeps working
