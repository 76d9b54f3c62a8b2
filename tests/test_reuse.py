"""Vector reuse on re-indexing (retrieval/reuse.py) and the vector cache (retrieval/vectorcache.py):
what is embedded again and what is not, counted text by text, and the vectors kept exactly.

A deterministic fake encoder records every batch it is given: the counts below are the
texts a real model would have spent time on. The real model's reuse is checked in
tests/test_blind_spots.py."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from retrieval.build import build_index
from retrieval.index import current_version
from retrieval.reuse import CACHE_EVERY, embed_missing, live_meta, live_vectors
from retrieval.vectorcache import VectorCache
from tests.conftest import FakeEncoder

ARTICLES = {
    "a.txt": "瘦脸针多久见效\n\n瘦脸针一般注射后一到两周开始见效。效果通常可以维持四到六个月。",
    "b.txt": "打完瘦脸针能化妆吗\n\n注射后二十四小时内不要化妆。也不要按摩注射部位。",
}


class Recording(FakeEncoder):
    """The fake encoder, remembering the size of each batch it embedded and how it was asked."""

    def __init__(self, name: str = "fake-bigrams", dim: int = 64):
        super().__init__(name, dim)
        self.batches: list[int] = []
        self.asked: list[dict] = []

    def encode(self, texts, **kw) -> np.ndarray:
        self.batches.append(len(texts))
        self.asked.append(kw)
        return super().encode(texts, **kw)


class Float64(Recording):
    """A model that hands back float64 vectors (as some do)."""

    def encode(self, texts, **kw) -> np.ndarray:
        return super().encode(texts, **kw).astype(np.float64)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, "utf-8")
    return folder


def _vectors(data, slot: int = 0) -> dict[str, np.ndarray]:
    with sqlite3.connect(current_version(data) / "chunks.sqlite") as db:
        rows = db.execute("SELECT c.content_hash, v.vector FROM chunks c JOIN vectors v ON v.id = c.id WHERE v.slot = ?",
                          (slot,)).fetchall()  # fmt: skip
    return {h: np.frombuffer(blob, dtype=np.float32) for h, blob in rows}


def _sentence_count(data) -> int:
    with sqlite3.connect(current_version(data) / "chunks.sqlite") as db:
        return db.execute("SELECT count(*) FROM sentences").fetchone()[0]


# --- through build_index, as `articlebot index` runs it ------------------------------------


def test_an_unchanged_corpus_embeds_nothing_again_and_keeps_the_same_vectors(corpus, tmp_path):
    data, encoder = tmp_path / "data", Recording()
    first = build_index(corpus, data, encoder)
    assert first.embedded == first.chunks == 2 and first.sentences_embedded == _sentence_count(data) == 4
    before, texts = _vectors(data), encoder.texts
    second = build_index(corpus, data, encoder)
    assert (second.embedded, second.sentences_embedded) == (0, 0)
    assert encoder.texts == texts  # not one text embedded
    after = _vectors(data)
    assert after.keys() == before.keys()
    for key, vector in before.items():
        assert np.array_equal(after[key], vector)


def test_the_live_version_alone_is_enough_to_reuse_from(corpus, tmp_path):
    data, encoder = tmp_path / "data", Recording()
    build_index(corpus, data, encoder)
    (data / "vectors.sqlite").unlink()  # no cache: only the live version holds the vectors
    report = build_index(corpus, data, encoder)
    assert (report.embedded, report.sentences_embedded) == (0, 0)


def test_the_cache_alone_is_enough_to_reuse_from(corpus, tmp_path):
    built, encoder = tmp_path / "built", Recording()
    build_index(corpus, built, encoder)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(built / "vectors.sqlite", data / "vectors.sqlite")  # no live version: only the cache
    report = build_index(corpus, data, encoder)
    assert (report.embedded, report.sentences_embedded) == (0, 0)
    assert _vectors(data).keys() == _vectors(built).keys()
    for key, vector in _vectors(built).items():
        assert np.array_equal(_vectors(data)[key], vector)


def test_a_changed_article_embeds_only_its_new_text(corpus, tmp_path):
    data, encoder = tmp_path / "data", Recording()
    build_index(corpus, data, encoder)
    (corpus / "b.txt").write_text("打完瘦脸针能化妆吗\n\n注射后二十四小时内不要化妆。一周内不要蒸桑拿。", "utf-8")
    report = build_index(corpus, data, encoder)
    assert report.changed == ["b.txt"] and report.embedded == 1  # b's one chunk; a's is reused
    assert report.sentences_embedded == 1  # only "一周内不要蒸桑拿。": "注射后二十四小时内不要化妆。" was embedded before


def test_full_embeds_everything_again(corpus, tmp_path):
    data, encoder = tmp_path / "data", Recording()
    build_index(corpus, data, encoder)
    report = build_index(corpus, data, encoder, full=True)
    assert (report.embedded, report.sentences_embedded) == (2, 4)


def test_sentence_vectors_of_another_model_are_not_reused(corpus, tmp_path):
    data = tmp_path / "data"
    build_index(corpus, data, Recording("fake-first"))
    (data / "vectors.sqlite").unlink()
    other = Recording("fake-second")
    report = build_index(corpus, data, other)
    assert (report.embedded, report.sentences_embedded) == (2, 4)


def test_an_index_of_another_format_or_an_unreadable_meta_is_not_reused_from(corpus, tmp_path):
    data, encoder = tmp_path / "data", Recording()
    build_index(corpus, data, encoder)
    (data / "vectors.sqlite").unlink()
    live = current_version(data)
    meta = json.loads((live / "meta.json").read_text("utf-8"))
    (live / "meta.json").write_text(json.dumps({**meta, "format": meta["format"] - 1}), "utf-8")
    assert live_meta(live) is None and live_vectors(live, encoder) == {}
    (live / "meta.json").write_text("{not json", "utf-8")
    assert live_meta(live) is None
    assert live_meta(None) is None
    report = build_index(corpus, data, encoder)
    assert (report.embedded, report.sentences_embedded) == (2, 4)


def test_the_live_versions_vectors_are_read_by_model(corpus, tmp_path):
    data, encoder = tmp_path / "data", Recording()
    build_index(corpus, data, encoder)
    live = current_version(data)
    held = live_vectors(live, encoder)
    assert held.keys() == _vectors(data).keys()
    assert live_vectors(live, Recording("fake-other")) == {}


# --- embedding in batches, each kept at once -----------------------------------------------


def test_missing_texts_are_embedded_in_batches_each_written_to_the_cache(tmp_path):
    encoder, cache = Recording(), VectorCache(tmp_path / "vectors.sqlite")
    texts = {f"k{i}": f"第{i}段文字" for i in range(CACHE_EVERY * 2 + 3)}
    known = {"k0": np.ones(64, dtype=np.float32) / 8.0}  # already known: not embedded
    embed_missing(texts, known, encoder, cache=cache, progress=False, what="embedding", unit="passage")
    assert encoder.batches == [64, 64, 2]
    assert known.keys() == texts.keys() and np.array_equal(known["k0"], np.ones(64, dtype=np.float32) / 8.0)
    stored = cache.get(encoder.name, 64, list(texts))
    assert stored.keys() == set(texts) - {"k0"}
    assert np.allclose(stored["k5"], encoder.encode(["第5段文字"])[0])
    cache.close()


class FailsOnSecondBatch(Recording):
    def encode(self, texts, **kw) -> np.ndarray:
        if self.batches:
            raise RuntimeError("killed")
        return super().encode(texts, **kw)


def test_a_batch_embedded_before_a_failure_is_kept_in_the_cache(tmp_path):
    cache = VectorCache(tmp_path / "vectors.sqlite")
    texts = {f"k{i}": f"第{i}段" for i in range(CACHE_EVERY + 1)}
    with pytest.raises(RuntimeError):
        embed_missing(texts, {}, FailsOnSecondBatch(), cache=cache, progress=False, what="embedding", unit="passage")
    assert len(cache.get("fake-bigrams", 64, list(texts))) == CACHE_EVERY
    cache.close()


# --- the cache --------------------------------------------------------------------------------


def test_the_cache_returns_each_models_own_vectors_of_the_right_size(tmp_path):
    cache = VectorCache(tmp_path / "vectors.sqlite")
    one, two = np.full(4, 0.5, dtype=np.float32), np.array([1, 0, 0, 0], dtype=np.float32)
    cache.put("model-a", {"h1": one})
    cache.put("model-b", {"h1": two})
    assert np.array_equal(cache.get("model-a", 4, ["h1"])["h1"], one)
    assert np.array_equal(cache.get("model-b", 4, ["h1"])["h1"], two)
    assert cache.get("model-a", 8, ["h1"]) == {}  # a vector of another size is not this model's
    assert cache.get("model-c", 4, ["h1"]) == {}
    cache.put("model-a", {"h1": two})  # embedded again: the newer vector replaces the older
    assert np.array_equal(cache.get("model-a", 4, ["h1", "h1", "missing"])["h1"], two)
    cache.put("model-a", {"bad": np.array([np.nan, 0, 0, 0], dtype=np.float32)})
    assert cache.get("model-a", 4, ["bad"]) == {}  # never hands out a vector that is not finite
    cache.close()
    reopened = VectorCache(tmp_path / "vectors.sqlite")
    assert np.array_equal(reopened.get("model-a", 4, ["h1"])["h1"], two)  # on disk, not in memory
    reopened.close()
    reopened.close()  # closing twice is harmless


def test_the_cache_reads_more_hashes_than_one_query_holds(tmp_path):
    cache = VectorCache(tmp_path / "vectors.sqlite")
    vectors = {f"h{i}": np.full(2, i, dtype=np.float32) for i in range(1201)}
    cache.put("m", vectors)
    got = cache.get("m", 2, list(vectors))
    assert len(got) == 1201 and np.array_equal(got["h1200"], np.full(2, 1200, dtype=np.float32))
    cache.close()


def test_a_broken_cache_means_embedding_again_never_a_failure(tmp_path, caplog):
    (tmp_path / "garbage.sqlite").write_bytes(b"this is not a database" * 100)
    broken = VectorCache(tmp_path / "garbage.sqlite")
    assert broken.get("m", 2, ["h"]) == {}
    broken.put("m", {"h": np.zeros(2, dtype=np.float32)})  # no exception
    broken.close()
    (tmp_path / "folder.sqlite").mkdir()
    assert VectorCache(tmp_path / "folder.sqlite").get("m", 2, ["h"]) == {}
    none = VectorCache(None)
    none.put("m", {"h": np.zeros(2, dtype=np.float32)})
    assert none.get("m", 2, ["h"]) == {}
    assert "vector cache" in caplog.text


def test_batches_go_to_the_model_32_at_a_time_and_it_shows_progress_only_for_a_short_run(tmp_path):
    encoder = Recording()
    embed_missing({"a": "一", "b": "二"}, {}, encoder, cache=None, progress=True, what="embedding", unit="passage")
    embed_missing({"c": "三"}, {}, encoder, cache=None, progress=False, what="embedding", unit="passage")
    many = {f"k{i}": f"第{i}段" for i in range(CACHE_EVERY + 1)}
    embed_missing(many, {}, encoder, cache=None, progress=True, what="embedding", unit="passage")  # a bar of its own instead
    assert encoder.asked == [{"batch_size": 32, "progress": True}, {"batch_size": 32, "progress": False},
                             {"batch_size": 32, "progress": False}, {"batch_size": 32, "progress": False}]  # fmt: skip


def test_a_long_run_shows_one_bar_naming_the_model_and_counting_every_text(capsys):
    many = {f"k{i}": f"第{i}段" for i in range(CACHE_EVERY * 2 + 1)}
    embed_missing(many, {}, Recording(), cache=None, progress=True, what="embedding sentences", unit="sentence")
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert bar.startswith("embedding sentences (fake-bigrams): 100%") and "129/129" in bar and "sentence/s" in bar
    embed_missing(dict(list(many.items())[:CACHE_EVERY]), {}, Recording(), cache=None, progress=True, what="x", unit="y")
    embed_missing(many, {}, Recording(), cache=None, progress=False, what="x", unit="y")
    assert capsys.readouterr().err == ""  # one batch, or no progress asked: no bar


def test_indexing_with_progress_names_what_it_embeds(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(CACHE_EVERY + 2):
        (corpus / f"a{i:03d}.txt").write_text(f"第{i}篇\n\n瘦脸针第{i}个问题的回答。注射后第{i}天的注意事项。", "utf-8")
    build_index(corpus, tmp_path / "data", Recording(), progress=True)
    err = capsys.readouterr().err.replace("\r", "\n")
    assert "embedding (fake-bigrams): 100%" in err and "passage/s" in err
    assert "embedding sentences (fake-bigrams): 100%" in err and "sentence/s" in err


def test_vectors_are_stored_as_float32_whatever_the_model_returns(corpus, tmp_path):
    data = tmp_path / "data"
    build_index(corpus, data, Float64())
    with sqlite3.connect(current_version(data) / "chunks.sqlite") as db:
        sizes = {len(blob) for (blob,) in db.execute("SELECT vector FROM vectors")}
        sentence_sizes = {len(blob) for (blob,) in db.execute("SELECT vector FROM sentences")}
    assert sizes == sentence_sizes == {64 * 4}
    report = build_index(corpus, data, Float64())
    assert (report.embedded, report.sentences_embedded) == (0, 0)


def test_the_cache_makes_its_folder_and_names_the_file_it_cannot_use(tmp_path, caplog):
    nested = VectorCache(tmp_path / "a" / "b" / "vectors.sqlite")
    nested.put("m", {"h": np.ones(2, dtype=np.float32)})
    assert np.array_equal(nested.get("m", 2, ["h"])["h"], np.ones(2, dtype=np.float32))
    nested.close()
    (tmp_path / "folder.sqlite").mkdir()
    VectorCache(tmp_path / "folder.sqlite").get("m", 2, ["h"])
    said = [r.getMessage() for r in caplog.records if r.name == "retrieval.vectorcache"]
    assert said == [f"not using the vector cache {tmp_path / 'folder.sqlite'}: unable to open database file"]


def test_a_float64_vector_is_cached_as_float32(tmp_path):
    cache = VectorCache(tmp_path / "vectors.sqlite")
    cache.put("m", {"h": np.array([0.6, 0.8], dtype=np.float64)})
    got = cache.get("m", 2, ["h"])["h"]
    assert got.dtype == np.float32 and np.allclose(got, [0.6, 0.8])
    cache.close()


def test_a_cache_broken_while_open_is_reported_and_read_as_empty(tmp_path, caplog):
    cache = VectorCache(tmp_path / "vectors.sqlite")
    cache.put("m", {"h": np.ones(2, dtype=np.float32)})
    with sqlite3.connect(tmp_path / "vectors.sqlite") as other:  # another process damages it
        other.execute("DROP TABLE vectors")
    assert cache.get("m", 2, ["h"]) == {}
    cache.put("m", {"h": np.ones(2, dtype=np.float32)})  # no exception
    cache.put("m", {})  # nothing to write: not even an attempt
    cache.close()
    assert [r.getMessage() for r in caplog.records if r.name == "retrieval.vectorcache"] == [
        "vector cache unreadable (no such table: vectors); embedding again",
        "could not write the vector cache (no such table: vectors)",
    ]


def test_a_write_waits_for_another_process_holding_the_cache(tmp_path):
    """Two re-indexes (or a re-index and the bot) at once: a write waits for the other's lock,
    here held for 6 s (SQLite's own default would give up after 5), instead of losing the vectors."""
    import threading

    path = tmp_path / "vectors.sqlite"
    VectorCache(path).close()  # the file and its table
    other = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    released = threading.Timer(6.0, lambda: other.execute("COMMIT"))
    released.start()
    cache = VectorCache(path)
    try:
        cache.put("m", {"h1": np.array([0.6, 0.8], dtype=np.float32)})
        assert not released.is_alive()  # the write waited for the lock
        assert cache.get("m", 2, ["h1"])["h1"].tolist() == pytest.approx([0.6, 0.8])
    finally:
        released.join()
        cache.close()
        other.close()
