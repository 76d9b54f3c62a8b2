"""What the red flags add to a question: milliseconds per message, by layer.

    .venv/bin/python bench/redflags.py [--file tests/data/emergencies.jsonl] [--limit 300] [--json]

- rules: normalising, mending typos and matching every rule (`RedFlags.by_rules`);
- meaning, own embedding: the classifier with the message embedded for it alone
  (what a configuration without multilingual-e5-small pays);
- meaning, shared vector: the classifier when search has just embedded the same
  question with the same model (the default: the query batcher keeps recent vectors);
- start-up: training the classifier on the example statements, vectors cached.

Nothing here asserts a time; it measures and prints.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ms(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"mean": round(statistics.fmean(samples) * 1000, 3), "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "tests" / "data" / "emergencies.jsonl")
    parser.add_argument("--limit", type=int, default=300, help="messages timed (at most)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from embeddings import load_encoder
    from embeddings.batching import QueryBatcher
    from retrieval.redflag_eval import load
    from retrieval.redflag_meaning import MODEL, Examples, MeaningLayer
    from retrieval.safety import RedFlags
    from retrieval.vectorcache import VectorCache

    messages = [item.message for item in load(args.file)][: max(1, args.limit)]
    encoder = load_encoder(MODEL)
    with tempfile.TemporaryDirectory() as folder:
        cache = VectorCache.in_data_dir(Path(folder))  # as in a fresh data folder
        started = time.perf_counter()
        layer = MeaningLayer(Examples.load(), encoder, cache)  # embeds every example
        first_start = time.perf_counter() - started
        started = time.perf_counter()
        batcher = QueryBatcher(encoder)
        shared = MeaningLayer(Examples.load(), encoder, cache, embed=batcher.encode_one)  # from the cache
        cached_start = time.perf_counter() - started
        cache.close()
    rules = RedFlags.load()

    timings: dict[str, list[float]] = {"rules": [], "meaning_own_embedding": [], "meaning_shared_vector": []}
    for message in messages:
        t = time.perf_counter()
        rules.by_rules(message)
        timings["rules"].append(time.perf_counter() - t)
        t = time.perf_counter()
        layer.score(message)
        timings["meaning_own_embedding"].append(time.perf_counter() - t)
        batcher.encode_one(message)  # what search does first
        t = time.perf_counter()
        shared.score(message)
        timings["meaning_shared_vector"].append(time.perf_counter() - t)
    result = {"messages": len(messages), **{k: _ms(v) for k, v in timings.items()},
              "startup_s": {"embedding_examples": round(first_start, 2), "cached": round(cached_start, 3)}}  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    print(f"{len(messages)} messages from {args.file.name}")
    for key in timings:
        print(f"  {key:<24} mean {result[key]['mean']:>8.3f} ms   p95 {result[key]['p95']:>8.3f} ms")
    print(f"  start-up: {first_start:.1f} s embedding the examples, {cached_start:.2f} s with their vectors cached")


if __name__ == "__main__":
    main()
