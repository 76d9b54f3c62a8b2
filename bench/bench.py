"""articlebot benchmark: indexing throughput, question latency at scale, the bot under
load, and memory. Prints a table, or one JSON object with --json.

    .venv/bin/python bench/bench.py [--json] [--medqa ../shared/eval/medqa]

- Indexing: chunks embedded per second when indexing the bundled corpus, the
  medqa passages (when the folder is given and exists; ~145 characters each) and
  300 chunks of 300 characters made by joining medqa passages, with the configured
  model and backend (ARTICLEBOT_MODEL, ARTICLEBOT_BACKEND). `index_chunks_per_s`
  is the 300-character figure (the bundled corpus's when medqa is absent).
- Question latency (embed + search + choose passages + red flags, the whole
  `Pipeline.answer` as the bot builds it: configured threshold, rules and meaning
  layer) at 10,000 and 100,000 chunks. Larger corpora are a synthetic scale-up of the real
  passages: their texts repeated with a marker, their vectors repeated with a
  little noise, so that FAISS, BM25 and SQLite work at full size.
- HNSW recall against exact search on the medqa questions at the largest size.
- The Telegram bot with 50 simultaneous users against the local Bot API server
  the tests use (127.0.0.1): how many were answered, and the p95 time from a
  message arriving to the reply.
- Peak memory (VmHWM) of a real `articlebot run` process serving the largest index.

Nothing here asserts a time; it measures and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Config, go_offline  # noqa: E402
from bot.service import make_encoders  # noqa: E402
from common.jsonl import read_jsonl  # noqa: E402
from common.text import sha256  # noqa: E402
from corpus import DEFAULT_CORPUS  # noqa: E402
from corpus.article import Article  # noqa: E402
from corpus.chunk import Chunk  # noqa: E402
from retrieval.build import build_from_documents, build_index, write_version  # noqa: E402
from retrieval.evaluate import passages_as_documents  # noqa: E402
from retrieval.index import Index, current_version  # noqa: E402
from retrieval.pipeline import Pipeline  # noqa: E402
from retrieval.search import Searcher  # noqa: E402
from retrieval.sentences import units  # noqa: E402


class TimedEncoder:
    """Wraps the encoder to measure time spent embedding."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.query_prefix = getattr(inner, "query_prefix", "")
        self.seconds = 0.0
        self.texts = 0

    def encode(self, texts, **kw):
        started = time.perf_counter()
        out = self.inner.encode(texts, **kw)
        self.seconds += time.perf_counter() - started
        self.texts += len(texts)
        return out

    def encode_queries(self, texts):
        from embeddings.base import encode_queries

        return encode_queries(self.inner, texts)


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def indexing(encoders, medqa: Path | None, work: Path) -> dict:
    """Passages embedded per second, by the configured models together (re-embedding everything)."""
    out = {}
    timed = [TimedEncoder(e) for e in encoders]
    build_index(DEFAULT_CORPUS, work / "bundled", timed, full=True)
    out["bundled"] = _rate(timed)
    if medqa:
        records = read_jsonl(medqa / "corpus.jsonl")
        timed = [TimedEncoder(e) for e in encoders]
        build_from_documents(passages_as_documents(records), work / "medqa", timed, full=True)
        out["medqa"] = _rate(timed)
        # The target's unit: chunks of about 300 characters (the bundled corpus is only 20 chunks).
        timed = [TimedEncoder(e) for e in encoders]
        build_from_documents(passages_as_documents(joined_passages(records, 300, 300)), work / "c300", timed, full=True)
        out["300 chars"] = _rate(timed)
    return out


def _rate(timed: list) -> dict:
    """Chunks embedded per second by all models (a chunk counts once, however many models embed it)."""
    chunks, seconds = timed[0].texts, sum(t.seconds for t in timed)
    return {"chunks": chunks, "seconds": round(seconds, 2), "chunks_per_s": round(chunks / seconds, 1) if seconds else None}


def joined_passages(records: list[dict], chars: int, count: int) -> list[dict]:
    """`count` texts of `chars` characters made by joining consecutive passages."""
    out, text = [], ""
    for rec in records:
        text += rec["text"].replace("\n", "")
        if len(text) >= chars:
            out.append({"id": f"j{len(out):05d}", "text": text[:chars]})
            text = ""
            if len(out) == count:
                break
    return out


def base_chunks(work: Path, medqa: Path | None) -> tuple[list[str], list]:
    """Texts of the real chunks the scale-up repeats, and per model (DenseMeta, vectors, background)."""
    import sqlite3

    from retrieval.index import IndexMeta, background_file

    source = current_version(work / ("medqa" if medqa else "bundled"))
    meta = IndexMeta.read(source)
    conn = sqlite3.connect(source / "chunks.sqlite")
    ids, texts = map(list, zip(*conn.execute("SELECT id, text FROM chunks ORDER BY id")))
    per_chunk: dict[int, list[tuple[str, np.ndarray]]] = {}
    for row_id, key, blob in conn.execute("SELECT id, hash, vector FROM sentences ORDER BY id, n"):
        per_chunk.setdefault(row_id, []).append((key, np.frombuffer(blob, dtype=np.float32)))
    sentences = [per_chunk.get(i, []) for i in ids]
    dense = []
    for slot, dmeta in enumerate(meta.dense):
        rows = conn.execute("SELECT vector FROM vectors WHERE slot = ? ORDER BY id", (slot,)).fetchall()
        with np.load(source / background_file(slot)) as stored:
            ground = {lang: stored[lang] for lang in stored.files}
        dense.append((dmeta, np.stack([np.frombuffer(r[0], dtype=np.float32) for r in rows]), ground))
    conn.close()
    return texts, (dense, sentences)


def scaled_index(data: Path, size: int, texts: list[str], base: tuple, kind: str | None = None) -> dict:
    """Write an index version of `size` chunks built from the real ones, with their sentence
    vectors (so the evidence and excerpt stages do their real work); returns build timings."""
    base, base_sentences = base
    rng = np.random.default_rng(size)
    n = len(texts)
    picks = np.arange(size) % n
    dense = []
    for dmeta, vectors, ground in base:
        vecs = vectors[picks] + rng.normal(scale=0.02, size=(size, vectors.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        dense.append((dmeta, vecs, ground))
    per_article = 10
    chunks, articles, sentences = [], [], []
    for i in range(size):
        path = f"synthetic/{i // per_article:06d}.txt"
        if i % per_article == 0:
            articles.append(Article(path, f"合成文章 {i // per_article}", [], sha256(path)))
        text = f"{texts[picks[i]]}（第{i}段）"
        chunks.append(Chunk(f"s{i:08d}", path, articles[-1].title, None, text, i % per_article, sha256(text)))
        rows = list(base_sentences[picks[i]])
        if rows:  # the sentences of the real chunk, and the suffix as one more (a copy of the last)
            count = len(units(text))
            sentences.append((rows + rows[-1:] * count)[:count])
    seconds: dict[str, float] = {}
    folder = write_version(data, articles, chunks, dense, kind=kind, timings=seconds,
                           sentences=sentences if len(sentences) == size else None)  # fmt: skip
    timings = {f"{part}_s": round(t, 1) for part, t in seconds.items() if part != "bm25"}
    timings["bm25_s"] = round(seconds["bm25"], 1)
    timings["kind"] = json.loads((folder / "meta.json").read_text("utf-8"))["kind"]
    return timings


def bot_pipeline(data: Path, encoders, config: Config, work: Path) -> Pipeline:
    """The pipeline the bot runs (bot.service.pipeline_for) over the index in `data`: the
    configured threshold and red flags, meaning layer included; its examples' vectors are
    kept in `work`, so they are embedded once for the whole benchmark."""
    from bot.service import pipeline_for

    return pipeline_for(dataclasses.replace(config, data_dir=work), Searcher(Index.load(data, [e.name for e in encoders]), encoders))


def query_latency(data: Path, encoders, questions: list[str], config: Config, work: Path) -> dict:
    pipeline = bot_pipeline(data, encoders, config, work)
    index = pipeline.searcher.index
    for q in questions[:5]:
        pipeline.answer(q)  # warm-up
    times = []
    for q in questions:
        started = time.perf_counter()
        pipeline.answer(q)
        times.append((time.perf_counter() - started) * 1000)
    index.close()
    return {"p50": round(percentile(times, 50), 1), "p95": round(percentile(times, 95), 1)}


def hnsw_recall(data: Path, encoder, questions: list[str]) -> dict:
    """Top-10 overlap of the HNSW index with exact search over the same vectors."""
    import faiss

    index = Index.load(data, encoder.name)
    part = max(index.dense[0].parts.values(), key=lambda p: p.ntotal)
    inner = faiss.downcast_index(part.index)
    if not hasattr(inner, "hnsw"):
        return {"kind": "flat", "recall_at_10": 1.0}
    flat = faiss.IndexFlatIP(index.meta.dim)
    flat.add(inner.storage.reconstruct_n(0, inner.ntotal))
    from embeddings.base import encode_queries

    queries = encode_queries(encoder, questions)
    times = {}
    started = time.perf_counter()
    _, exact = flat.search(queries, 10)
    times["flat_ms"] = round((time.perf_counter() - started) * 1000 / len(questions), 2)
    started = time.perf_counter()
    _, approx = inner.search(queries, 10)
    times["hnsw_ms"] = round((time.perf_counter() - started) * 1000 / len(questions), 2)
    recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)]))
    index.close()
    return {"kind": "hnsw", "recall_at_10": round(recall, 4), **times}


async def bot_load(data: Path, encoder, questions: list[str], users: int, config: Config, work: Path) -> dict:
    from bot.service import Service
    from bot.telegram.app import ALLOWED_UPDATES, TelegramSettings, build_application
    from bot.telegram.fake_botapi import FakeBotAPI
    from convlog import ConversationLog

    api = FakeBotAPI()
    url = await api.start()
    pipeline = bot_pipeline(data, encoder, config, work)
    log = ConversationLog(f"sqlite:///{data / 'bench-logs.db'}", salt="bench")
    app = build_application(TelegramSettings(api.token, url, 0), Service(pipeline, log))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    try:
        sent_at = {}
        messages = []
        for i in range(users):
            message = await api.message(questions[i % len(questions)], user_id=50_000 + i)
            sent_at[message["message_id"]] = time.monotonic()
            messages.append(message)
        await api.wait_until(lambda: all(api.replies_to(m) for m in messages), timeout=120)
        latencies = []
        for m in messages:
            replies = api.replies_to(m)
            if replies:
                latencies.append((replies[0]["t"] - sent_at[m["message_id"]]) * 1000)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await api.stop()
    return {"users": users, "answered": len(latencies), "p95_ms": round(percentile(latencies, 95), 1), "p50_ms": round(percentile(latencies, 50), 1)}


def bot_memory(data: Path, questions: list[str]) -> dict:
    """Peak RSS of a real `articlebot run` process answering from `data`."""
    from bot.telegram.fake_botapi import FakeBotAPI, ServerThread

    api = FakeBotAPI()
    thread = ServerThread(api)
    with thread:
        env = {**os.environ, "ARTICLEBOT_DATA": str(data), "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.url, "HF_HUB_OFFLINE": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not api.of("getUpdates"):
                time.sleep(0.2)
            messages = [thread.call(api.message(q, user_id=70_000 + i)) for i, q in enumerate(questions[:20])]
            while time.monotonic() < deadline and not all(api.replies_to(m) for m in messages):
                time.sleep(0.2)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            fields = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
            answered = sum(1 for m in messages if api.replies_to(m))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    kb = lambda key: int(fields.get(key, "0 kB").split()[0])  # noqa: E731
    return {"rss_mb": round(kb("VmRSS") / 1024, 1), "peak_rss_mb": round(kb("VmHWM") / 1024, 1), "answered": answered}


def main(argv: list[str] | None = None) -> dict:
    go_offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--medqa", type=Path, default=ROOT.parent / "shared" / "eval" / "medqa", help="the medqa folder (used only when it exists)")
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts for the latency test")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--flat", action="store_true", help="force exact (flat) FAISS indexes at every size, for comparison")
    args = parser.parse_args(argv)
    config = Config.from_env()
    medqa = args.medqa if (args.medqa / "corpus.jsonl").is_file() else None
    # Questions as this bot's users write them (the project's labelled set); medqa's are exam-style and
    # about three times longer (68 characters on average), which the question-latency line also reports.
    labelled = [x["turns"][0] for x in read_jsonl(ROOT / "tests" / "data" / "answers.jsonl") if len(x["turns"]) == 1]
    questions = labelled[: args.queries]
    long_questions = [q["text"] for q in read_jsonl(medqa / "queries.jsonl")][: args.queries] if medqa else []
    encoders = make_encoders(config)
    for e in encoders:
        e.encode(["预热"])  # load and warm up before anything is timed
    encoder = encoders[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    report: dict = {"cores": os.cpu_count(), "model": " + ".join(config.models),
                    "backend": "+".join(getattr(e, "backend", "torch") for e in encoders),
                    "question_chars": round(float(np.mean([len(q) for q in questions])), 1)}
    with tempfile.TemporaryDirectory(prefix="articlebot-bench-") as tmp:
        work = Path(tmp)
        log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
        log("indexing ...")
        report["indexing"] = indexing(encoders, medqa, work)
        report["index_chunks_per_s"] = report["indexing"].get("300 chars", report["indexing"]["bundled"])["chunks_per_s"]
        texts, base = base_chunks(work, medqa)
        report["query_ms"], report["scale_build"] = {}, {}
        for size in sizes:
            log(f"{size} chunks ...")
            kind = "flat" if args.flat else None
            report["scale_build"][str(size)] = scaled_index(work / f"n{size}", size, texts, base, kind)
            report["query_ms"][str(size)] = query_latency(work / f"n{size}", encoders, questions, config, work)
        if long_questions:
            report["query_ms_medqa_questions"] = query_latency(work / f"n{sizes[0]}", encoders, long_questions, config, work)
        report["hnsw"] = hnsw_recall(work / f"n{sizes[-1]}", encoder, questions)
        log("bot under load ...")
        report["bot"] = asyncio.run(bot_load(work / "bundled", encoders, ["打瘦脸针后面瘫多久能恢复？", "长期打肉毒素有什么副作用？", "瘦脸针会导致脸颊凹陷吗", "Can massage help facial nerve palsy?"], args.users, config, work))
        log("memory ...")
        memory = bot_memory(work / f"n{sizes[-1]}", questions)
        report["memory"] = memory
        report[f"rss_mb_{sizes[-1] // 1000}k"] = memory["peak_rss_mb"]
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    return report


def print_table(r: dict) -> None:
    print(f"articlebot benchmark — {r['cores']} cores, model {r['model']} ({r['backend']})")
    for name, f in r["indexing"].items():
        print(f"  indexing {name:<8} {f['chunks']:>6} chunks  {f['chunks_per_s']:>6.1f} chunks/s")
    print(f"  questions: the labelled set's, {r['question_chars']} characters on average")
    for size, f in r["query_ms"].items():
        build = r["scale_build"][size]
        print(f"  question at {int(size):>7} chunks ({build['kind']:<4}) p50 {f['p50']:>6.1f} ms  p95 {f['p95']:>6.1f} ms")
    if "query_ms_medqa_questions" in r:
        f = r["query_ms_medqa_questions"]
        print(f"  medqa's longer questions at {list(r['query_ms'])[0]} chunks: p50 {f['p50']:>6.1f} ms  p95 {f['p95']:>6.1f} ms")
    h = r["hnsw"]
    if h["kind"] == "hnsw":
        print(f"  HNSW recall@10 vs exact {h['recall_at_10']:.3f}; search {h['hnsw_ms']} ms vs exact {h['flat_ms']} ms")
    b = r["bot"]
    print(f"  bot: {b['users']} simultaneous users, {b['answered']} answered, p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms")
    m = r["memory"]
    print(f"  bot process at {list(r['query_ms'])[-1]} chunks: peak RSS {m['peak_rss_mb']} MB (now {m['rss_mb']} MB), {m['answered']} answered")


if __name__ == "__main__":
    main()
