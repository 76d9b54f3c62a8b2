"""The web console's pages over a large conversation log: time per page against a target.

    .venv/bin/python bench/console.py [--count 100000] [--repeat 5] [--target-ms 300]
                                      [--url URL | --postgres] [--explain] [--json]

Seeds a fresh log (a SQLite file in a temporary folder, removed afterwards; the
empty database at --url / ARTICLEBOT_LOG_URL; or, with --postgres, a throwaway
PostgreSQL server started like the tests' own) with `--count` exchanges made by
tests/seedlog.py (30 days, 400 users), serves the console with
`console.server.running` (a real uvicorn server on 127.0.0.1, in this process),
signs in, and times GET of each page: the overview (the default 30 days, and all
time), the conversation list (first page, page 3 through the "Older" links, a
filter, a full-text search, one user). Each page is fetched once to warm up, then
`--repeat` times; the figures are the median and the slowest, and PASS when the
slowest is within the target. The SQL each page ran is timed too (the median total
per GET, and the slowest statement); with --explain its query plan is printed.

Nothing here is part of the test suite; it measures and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_REPEAT = 100  # every loop here is bounded
REQUEST_TIMEOUT = 120.0  # seconds for one page


class StatementTimer:
    """The SQL statements run on an engine (from any thread) and how long each took."""

    def __init__(self, engine):
        import sqlalchemy as sa

        self.engine = engine
        self.recording: list[tuple[float, str, object]] | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._local.started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - getattr(self._local, "started", time.perf_counter())
        with self._lock:
            if self.recording is not None:
                self.recording.append((took, statement, parameters))

    def start(self) -> None:
        with self._lock:
            self.recording = []

    def stop(self) -> list[tuple[float, str, object]]:
        with self._lock:
            out, self.recording = self.recording or [], None
        return out


def explain(engine, statement: str, parameters) -> list[str]:
    """The query plan of one recorded statement."""
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        try:
            if engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                return [f"{row[0]:>3} {row[1]:>3} {row[3]}" for row in cursor.fetchall()]
            cursor.execute("EXPLAIN ANALYZE " + statement, parameters)
            return [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()


def older_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" id="older">', html)
    return unescape(found.group(1)) if found else None


def measure(client, timer: StatementTimer, path: str, repeat: int) -> dict:
    """Warm up once, then time `repeat` GETs of `path` (each must be a 200)."""
    timings, sql_totals, slowest_sql = [], [], (0.0, "", None)
    for attempt in range(repeat + 1):
        timer.start()
        started = time.perf_counter()
        response = client.get(path)
        took = time.perf_counter() - started
        statements = timer.stop()
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        if attempt == 0:
            continue  # the warm-up
        timings.append(took * 1000)
        sql_totals.append(sum(item[0] for item in statements) * 1000)
        for item in statements:
            if item[0] > slowest_sql[0]:
                slowest_sql = item
    return {"median_ms": statistics.median(timings), "max_ms": max(timings), "sql_median_ms": statistics.median(sql_totals),
            "bytes": len(response.content),
            "statements": len(statements), "slowest_sql_ms": slowest_sql[0] * 1000, "slowest_sql": slowest_sql[1],
            "slowest_params": slowest_sql[2]}  # fmt: skip


def run(url: str | None, count: int, repeat: int, target_ms: float, show_plans: bool) -> dict:
    data = Path(tempfile.mkdtemp(prefix="articlebot-bench-console-"))
    try:
        return _run(data, url or f"sqlite:///{data / 'logs.db'}", count, repeat, target_ms, show_plans)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _run(data: Path, url: str, count: int, repeat: int, target_ms: float, show_plans: bool) -> dict:
    import httpx
    import sqlalchemy as sa

    from tests.seedlog import seed

    os.environ["ARTICLEBOT_DATA"] = str(data / "data")
    os.environ["ARTICLEBOT_LOG_URL"] = url
    os.environ.pop("ARTICLEBOT_CONSOLE_TOKEN", None)

    from bot.config import Config
    from console.server import open_engine, running
    from convlog.schema import exchanges

    config = Config.from_env()
    engine = open_engine(config)
    with engine.connect() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(exchanges)).scalar_one():
            raise SystemExit(f"{url} already holds exchanges: give an empty database (the benchmark seeds its own).")
    started = time.perf_counter()
    ids = seed(engine, count)
    seed_seconds = time.perf_counter() - started
    if engine.dialect.name == "postgresql":  # what autovacuum would have done by the time anyone looks
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    user = "u0042"
    timer = StatementTimer(engine)
    token = secrets.token_urlsafe(18)
    results: dict[str, dict] = {}
    with running(config, engine, token) as base:
        with httpx.Client(base_url=base, follow_redirects=False, timeout=REQUEST_TIMEOUT) as client:
            signed = client.post("/login", data={"token": token, "next": "/"})
            if signed.status_code != 303:
                raise SystemExit(f"Could not sign in: {signed.status_code}")
            page = client.get("/conversations")
            page3 = None
            for _ in range(2):  # the first page's "Older" link, then the second's
                page3 = older_link(page.text)
                if page3 is None:
                    raise SystemExit("The conversation list has fewer than three pages.")
                page = client.get(page3)
            pages = {
                "overview (last 30 days)": "/",
                "overview (all time)": "/?since=2000-01-01",
                "conversations, first page": "/conversations",
                "conversations, page 3 (Older x2)": page3,
                "conversations, outcome=not_covered&lang=en": "/conversations?outcome=not_covered&lang=en",
                "conversations, q=瘦脸针": "/conversations?q=瘦脸针",
                f"conversations, user={user}": f"/conversations?user={user}",
                "one exchange": f"/exchanges/{ids[len(ids) // 2]}",
            }
            for name, path in pages.items():
                results[name] = {"path": path, **measure(client, timer, path, repeat)}
                results[name]["pass"] = results[name]["max_ms"] <= target_ms
                if show_plans:
                    item = results[name]
                    item["plan"] = explain(engine, item["slowest_sql"], item["slowest_params"])
    engine.dispose()
    return {"backend": engine.dialect.name, "url": url if url.startswith("sqlite") else engine.url.render_as_string(),
            "exchanges": count, "seed_seconds": round(seed_seconds, 2), "repeat": repeat, "target_ms": target_ms,
            "pages": results}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="exchanges to seed")
    parser.add_argument("--repeat", type=int, default=5, help=f"timed GETs per page after one warm-up (at most {MAX_REPEAT})")
    parser.add_argument("--target-ms", type=float, default=300.0)
    parser.add_argument("--url", default=os.environ.get("ARTICLEBOT_LOG_URL"),
                        help="an empty log database (default: a fresh SQLite file in a temporary folder)")  # fmt: skip
    parser.add_argument("--postgres", action="store_true",
                        help="a throwaway PostgreSQL server of the machine's binaries (as the tests start one)")  # fmt: skip
    parser.add_argument("--explain", action="store_true", help="print the query plan of each page's slowest statement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.repeat <= MAX_REPEAT or args.count < 200:
        parser.error(f"--repeat must be 1 to {MAX_REPEAT}, --count at least 200")
    if args.postgres:
        from tests.pg import TempPostgres, find_bin_dir

        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise SystemExit("PostgreSQL is not installed here (apt-get install postgresql).")
        server = TempPostgres(bin_dir)
        server.start()
        try:
            out = run(server.new_database(), args.count, args.repeat, args.target_ms, args.explain)
        finally:
            server.stop()
    else:
        out = run(args.url, args.count, args.repeat, args.target_ms, args.explain)
    if args.json:
        for item in out["pages"].values():
            item["slowest_params"] = repr(item["slowest_params"])
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    print(f"{out['backend']}: {out['exchanges']:,} exchanges seeded in {out['seed_seconds']:.1f} s; "
          f"{out['repeat']} timed GETs per page after one warm-up; target {out['target_ms']:.0f} ms (slowest GET)")  # fmt: skip
    print(f"{'page':46} {'median ms':>10} {'max ms':>8} {'of it SQL':>10} {'slowest stmt':>13}  result")
    for name, item in out["pages"].items():
        print(f"{name:46} {item['median_ms']:10.1f} {item['max_ms']:8.1f} {item['sql_median_ms']:10.1f} {item['slowest_sql_ms']:13.1f}  "
              f"{'PASS' if item['pass'] else 'FAIL'}")  # fmt: skip
    failed = [name for name, item in out["pages"].items() if not item["pass"] or args.explain]
    for name in failed:
        item = out["pages"][name]
        sql = " ".join(item["slowest_sql"].split())
        print(f"\n{name} ({item['path']}): slowest statement {item['slowest_sql_ms']:.1f} ms:\n  {sql[:600]}")
        for line in item.get("plan", []):
            print(f"    {line}")


if __name__ == "__main__":
    main()
