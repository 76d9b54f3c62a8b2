"""The on-disk index: round trip, ids, model mismatch, atomic publish, reuse of vectors.

These use the deterministic fake encoder (plumbing only); search quality is tested
with the real model in test_answers.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from corpus import DEFAULT_CORPUS, CorpusError
from retrieval.build import build_index
from retrieval.index import (
    POINTER,
    Index,
    IndexMismatchError,
    IndexMissingError,
    current_version,
)
from retrieval.search import Searcher


def test_round_trip(tmp_path, fake_encoder):
    data = tmp_path / "data"
    report = build_index(DEFAULT_CORPUS, data, fake_encoder)
    assert report.articles == 5
    assert report.chunks == report.embedded > 10

    index = Index.load(data, fake_encoder.name)
    assert index.meta.model == fake_encoder.name
    assert index.meta.dim == fake_encoder.dim
    assert index.meta.chunks == report.chunks == index.dense[0].ntotal
    assert index.meta.languages == {"en": 5, "zh": report.chunks - 5}  # one FAISS file per language

    # Every FAISS id names a chunk row, and a chunk's own vector finds that chunk first
    # (its cosine 1.0, less the background of its language: languages.py).
    conn = sqlite3.connect(index.folder / "chunks.sqlite")
    rows = conn.execute(
        "SELECT c.id, c.chunk_id, c.lang, v.vector FROM chunks c JOIN vectors v ON v.id = c.id AND v.slot = 0"
    ).fetchall()
    conn.close()
    assert len(rows) == report.chunks
    for row_id, chunk_id, lang, blob in rows[:3] + rows[-3:]:
        vector = np.frombuffer(blob, dtype=np.float32)
        (best_id, score), *_ = index.search(vector, 3, lang=lang)
        assert best_id == row_id
        assert score == pytest.approx(1.0 - index.dense[0].baseline(vector, lang, lang), abs=1e-4)
        assert index.store.get([best_id])[best_id].chunk_id == chunk_id

    hits = Searcher(index, fake_encoder).search("打瘦脸针面瘫会恢复吗", 4)
    assert len(hits) == 4
    # best first by evidence (stages.by_evidence), which every hit has
    assert all(h.evidence is not None for h in hits)
    assert [h.evidence for h in hits] == sorted((h.evidence for h in hits), reverse=True)
    assert all(h.title and h.text and h.article.endswith(".txt") for h in hits)
    index.close()


def test_meta_records_model_and_dimension(tmp_path, fake_encoder):
    build_index(DEFAULT_CORPUS, tmp_path, fake_encoder)
    meta = json.loads((current_version(tmp_path) / "meta.json").read_text())
    assert meta["model"] == "fake-bigrams" and meta["dim"] == 64
    assert meta["articles"] == 5


def test_index_built_by_another_model_is_refused_with_a_way_out(tmp_path, fake_encoder):
    build_index(DEFAULT_CORPUS, tmp_path, fake_encoder)
    with pytest.raises(IndexMismatchError) as err:
        Index.load(tmp_path, "m3e-small")
    message = str(err.value)
    assert "fake-bigrams" in message and "m3e-small" in message
    assert "articlebot index" in message
    assert "\n" not in message


def test_dimension_mismatch_is_refused(tmp_path, fake_encoder):
    from tests.conftest import FakeEncoder

    build_index(DEFAULT_CORPUS, tmp_path, fake_encoder)
    index = Index.load(tmp_path)
    with pytest.raises(IndexMismatchError):
        Searcher(index, FakeEncoder(dim=32))


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissingError, match="articlebot index"):
        Index.load(tmp_path / "nothing-here")


def test_empty_corpus_is_an_error(tmp_path, fake_encoder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="No usable articles"):
        build_index(tmp_path / "empty", tmp_path / "data", fake_encoder)
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(tmp_path / "missing", tmp_path / "data", fake_encoder)


def test_rebuild_reuses_unchanged_vectors_and_publishes_atomically(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for src in sorted(DEFAULT_CORPUS.iterdir()):
        (corpus / src.name).write_bytes(src.read_bytes())
    data = tmp_path / "data"
    first = build_index(corpus, data, fake_encoder)
    v1 = current_version(data)

    second = build_index(corpus, data, fake_encoder)
    assert second.embedded == 0 and second.chunks == first.chunks
    assert current_version(data) != v1

    path = corpus / "facial-palsy-massage-en.txt"
    path.write_text(path.read_text() + "\n\nA new closing paragraph about warm compresses, added for this test.\n")
    third = build_index(corpus, data, fake_encoder)
    assert 1 <= third.embedded <= 2
    # Only the live version and the one before it are kept.
    assert len(list(data.glob("index-*"))) == 2
    assert (data / POINTER).read_text().strip() == current_version(data).name

    full = build_index(corpus, data, fake_encoder, full=True)
    assert full.embedded == full.chunks


def test_a_crash_mid_build_leaves_the_previous_index_serving(tmp_path, fake_encoder):
    data = tmp_path / "data"
    build_index(DEFAULT_CORPUS, data, fake_encoder)
    before = current_version(data)

    class Exploding(type(fake_encoder)):
        def encode(self, texts, **kw):
            raise RuntimeError("killed mid-embedding")

    with pytest.raises(RuntimeError):
        build_index(DEFAULT_CORPUS, data, Exploding(), full=True)
    assert current_version(data) == before
    assert Index.load(data, fake_encoder.name).meta.chunks > 0
    assert sorted(p.name for p in Path(data).glob("index-*")) == [before.name]


def test_a_crash_while_writing_leaves_no_half_version(tmp_path, fake_encoder, monkeypatch):
    import retrieval.build

    data = tmp_path / "data"
    build_index(DEFAULT_CORPUS, data, fake_encoder)
    before = current_version(data)

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(retrieval.build, "write_faiss", broken_write)
    with pytest.raises(OSError):
        build_index(DEFAULT_CORPUS, data, fake_encoder, full=True)
    assert current_version(data) == before
    assert [p.name for p in data.glob("index-*")] == [before.name]


def test_hnsw_index_finds_what_exact_search_finds(tmp_path):
    """Large corpora get HNSW; on the same vectors its neighbours match exact search."""
    from retrieval.index import write_faiss

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = list(range(1, 3001))
    for kind in ("flat", "hnsw"):
        (tmp_path / kind).mkdir()
        assert write_faiss(tmp_path / kind, ids, vectors, 32, kind=kind) == kind
    import faiss

    flat = faiss.read_index(str(tmp_path / "flat" / "vectors.faiss"), faiss.IO_FLAG_MMAP_IFC)
    hnsw = faiss.read_index(str(tmp_path / "hnsw" / "vectors.faiss"), faiss.IO_FLAG_MMAP_IFC)
    faiss.downcast_index(hnsw.index).hnsw.efSearch = 128
    queries = vectors[:100] + rng.normal(scale=0.3, size=(100, 32)).astype(np.float32)
    _, exact = flat.search(queries, 10)
    _, approx = hnsw.search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.95
    assert set(exact.ravel()) <= set(ids)


def test_a_reranker_reorders_the_scored_hits_before_diversity(tmp_path, fake_encoder):
    """The optional re-rank stage: what it returns is the order the search gives, and it is timed."""
    build_index(DEFAULT_CORPUS, tmp_path, fake_encoder)
    index = Index.load(tmp_path, fake_encoder.name)
    plain = Searcher(index, fake_encoder).search("打瘦脸针面瘫会恢复吗", 8, distinct=False)
    seen: list[list[str]] = []

    class Reverse:
        def rerank(self, question, hits):
            seen.append([h.chunk_id for h in hits])
            return list(reversed(hits))

    searcher = Searcher(index, fake_encoder, reranker=Reverse())
    reranked = searcher.search("打瘦脸针面瘫会恢复吗", 8, distinct=False)
    assert seen == [[h.chunk_id for h in plain]]  # it saw the scored candidates, in the order of their evidence
    assert [h.chunk_id for h in reranked] == [h.chunk_id for h in reversed(plain)]
    assert list(searcher.last_timings) == ["embed", "dense", "lexical", "fuse", "score", "evidence", "rerank", "diversify", "sentences"]
    index.close()


def _two_articles(folder: Path) -> Path:
    """One article whose passage restates the question and then talks of something else,
    one that answers it in one sentence among others."""
    folder.mkdir()
    (folder / "restates.txt").write_text(
        "瘦脸针面瘫\n\n很多人问：打瘦脸针后面瘫多久能恢复呢？医院的环境很安静，停车也很方便，周末也营业。\n", "utf-8")
    (folder / "answers.txt").write_text(
        "面瘫的恢复\n\n注射后要多喝水。打瘦脸针后面瘫通常在数周内恢复。饮食以清淡为主，少吃辛辣。\n", "utf-8")
    return folder


def test_a_restated_question_is_no_evidence_and_the_answering_sentence_is(tmp_path, fake_encoder):
    """The hits are ordered by their evidence: a passage's best sentence counts, but not a
    sentence that only asks the question again (sentences.answers_nothing)."""
    from embeddings.base import encode_queries
    from retrieval import stages

    data = tmp_path / "data"
    build_index(_two_articles(tmp_path / "articles"), data, fake_encoder)
    index = Index.load(data, fake_encoder.name)
    question = "打瘦脸针后面瘫多久能恢复"
    hits = Searcher(index, fake_encoder).search(question, 2)
    assert [h.article for h in hits] == ["answers.txt", "restates.txt"]
    assert hits[0].evidence > hits[1].evidence
    # the restating sentence is the closest text to the question: counted, it would win
    restated = next(h for h in hits if h.article == "restates.txt")
    vector = encode_queries(fake_encoder, [question])[0]
    sentences = index.store.sentence_vectors([restated.row])[restated.row]
    answering = index.store.sentence_vectors([hits[0].row])[hits[0].row]
    assert float(np.max(sentences @ vector)) > float(np.max(answering @ vector))
    assert stages.by_evidence(index, list(reversed(hits)), question, vector, "zh", fake_encoder.name)[0].article == "answers.txt"
    index.close()


class _ReversedEncoder:
    """A second fake model: the first one's vectors with their dimensions reversed (another
    view of the same texts, as a second real model gives), under its own name."""

    def __init__(self, first):
        self.first, self.name, self.dim, self.query_prefix = first, "fake-reversed", first.dim, ""

    def encode(self, texts, **kw) -> np.ndarray:
        return self.first.encode(texts, **kw)[:, ::-1].copy()


def test_a_second_models_cosine_counts_in_the_evidence(tmp_path, fake_encoder):
    """With several models, the order of the candidates (stages.by_evidence) adds each further
    model's cosine with the passage, above its background, to the primary's evidence; a model
    whose cosines are not on one scale across languages (no background: m3e-small) counts only
    while the candidates are all in one language. One model: nothing changes."""
    from embeddings.base import encode_queries
    from retrieval import stages

    second = _ReversedEncoder(fake_encoder)
    data = tmp_path / "data"
    build_index(_two_articles(tmp_path / "articles"), data, [fake_encoder, second])
    index = Index.load(data, [fake_encoder.name, second.name])
    question = "打瘦脸针后面瘫多久能恢复"
    first_vector, second_vector = (encode_queries(e, [question])[0] for e in (fake_encoder, second))
    searcher = Searcher(index, [fake_encoder, second])
    hits = searcher.search(question, 2)
    assert {h.lang for h in hits} == {"zh"} and len(hits) == 2
    slot, other = index.slot(fake_encoder.name), index.slot(second.name)
    rows = index.store.get([h.row for h in hits])
    second_cosine = {h.row: float(second_vector @ rows[h.row].vectors[other]) - index.dense[other].baseline(second_vector, "zh", "zh")
                     for h in hits}  # fmt: skip
    assert all(abs(c) > 0.05 for c in second_cosine.values())  # it has something to add

    def evidence(**kw) -> dict[int, float]:
        return {h.row: h.evidence for h in stages.by_evidence(index, hits, question, first_vector, "zh", fake_encoder.name, slot=slot, **kw)}

    alone = evidence()  # the further cosines (Hit.further, from stages.score) left out
    both = evidence(one_scale=[False])
    assert both == {row: pytest.approx(alone[row] + second_cosine[row], abs=1e-5) for row in alone}
    # what search itself orders by: the same sums (fake-reversed has no background, the candidates are all Chinese)
    assert {h.row: h.evidence for h in searcher.search(question, 2)} == {row: pytest.approx(both[row], abs=1e-5) for row in both}

    hits[1].lang = "en"  # candidates in two languages: a model without a background is left out, one with it counts
    alone = evidence()
    assert evidence(one_scale=[False]) == alone
    assert evidence(one_scale=[True]) != alone
    index.close()
