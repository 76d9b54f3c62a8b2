"""Concurrent writers on one conversation log: rows written and rows lost.

    .venv/bin/python bench/logwriters.py [--processes 50] [--rows 120] [--url sqlite:///...] [--json]

Each of `--processes` processes opens the log (a fresh SQLite file by default, so
the first opens race to create and migrate it), waits for the others, then
records `--rows` exchanges with three hits each, as fast as it can: far more
than a bot's share of writes, the worst case for SQLite's single writer. The
figures are rows found in the log afterwards against rows attempted, write
failures reported by `ConversationLog.record`, and the time taken.

Nothing here asserts a figure; it measures and prints.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _write(url: str, worker: int, rows: int, ready, go, results) -> None:
    from convlog import ConversationLog, ExchangeRecord, LoggedHit

    ready.release()
    go.wait()
    log = ConversationLog(url, salt="bench")  # opened together: the first opens create and migrate the file
    failed = 0
    for n in range(rows):
        hits = [LoggedHit(f"c{k}", "a.txt", "标题", 0.8, k == 0) for k in range(3)]
        entry = ExchangeRecord("bench", "zh", f"问题 {worker}-{n}", "回答", False, hits, latency_ms=1)
        failed += not log.record(entry)
    log.close()
    results.put(failed)


def run(url: str, processes: int, rows: int) -> dict:
    """Start `processes` writers of `rows` exchanges each; count what reached the log."""
    import sqlalchemy as sa

    from convlog import ConversationLog
    from convlog.schema import exchanges

    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_write, args=(url, w, rows, ready, go, results)) for w in range(processes)]
    for p in workers:
        p.start()
    for _ in workers:
        if not ready.acquire(timeout=120):
            break
    started = time.monotonic()
    go.set()
    failed = sum(results.get(timeout=600) for _ in workers)
    for p in workers:
        p.join(timeout=60)
    seconds = time.monotonic() - started
    log = ConversationLog(url)
    with log.engine.connect() as conn:
        found = conn.execute(sa.select(sa.func.count()).select_from(exchanges)).scalar_one()
    log.close()
    attempted = processes * rows
    return {"processes": processes, "rows_attempted": attempted, "rows_written": found, "rows_lost": attempted - found,
            "failures_reported": failed, "seconds": round(seconds, 1), "rows_per_second": round(found / seconds)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--rows", type=int, default=120, help="exchanges each process records")
    parser.add_argument("--url", help="the log (default: a fresh SQLite file in a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(args.url or f"sqlite:///{tmp}/logs.db", min(args.processes, 200), min(args.rows, 10_000))
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['processes']} writer processes: {figures['rows_written']} of {figures['rows_attempted']} rows "
              f"written, {figures['rows_lost']} lost ({figures['failures_reported']} failures reported) in "
              f"{figures['seconds']} s ({figures['rows_per_second']} rows/s)")  # fmt: skip


if __name__ == "__main__":
    main()
