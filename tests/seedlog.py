"""A realistic conversation log, generated: for the console's tests, its benchmark
(bench/console.py, 100,000 exchanges) and the README's screenshots.

Questions come from a pool of what people ask (Chinese and English, answered ones,
ones the articles do not cover, emergencies, greetings, follow-ups, hostile text),
spread over `days` days with answer times, feedback, channels and pseudonyms, and
hits that point at chunks of a real index when `chunks` are given. Rows are inserted
in batches straight into the tables (the writer's one-by-one path would take minutes
for 100,000).
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from common.clock import utc_stamp
from convlog.schema import exchanges, hits

ANSWERED = [
    ("打瘦脸针后面瘫多久能恢复？", "zh"), ("瘦脸针打完脸不对称怎么办", "zh"), ("长期打肉毒素有什么副作用", "zh"),
    ("瘦脸针会导致脸颊凹陷吗", "zh"), ("面瘫按摩有用吗", "zh"), ("What are the long-term side effects of botox?", "en"),
    ("Can massage help facial palsy?", "en"), ("打完瘦脸针一边脸大一边脸小", "zh"), ("肉毒素打多了会怎样", "zh"),
]  # fmt: skip
NOT_COVERED = [
    ("瘦脸针多少钱一针", "zh"), ("打瘦脸针大概要花多少钱", "zh"), ("瘦脸针的价格是多少", "zh"), ("How much does botox cost?", "en"),
    ("瘦脸针疼不疼", "zh"), ("打瘦脸针痛吗", "zh"), ("Does a botox injection hurt?", "en"),
    ("孕妇可以打瘦脸针吗", "zh"), ("怀孕期间能打肉毒素吗", "zh"), ("Can I get botox while pregnant?", "en"),
    ("红烧肉怎么做", "zh"), ("明天北京天气怎么样", "zh"), ("玻尿酸能维持多久", "zh"), ("水光针多久打一次", "zh"),
]  # fmt: skip
EMERGENCIES = [("打完针呼吸困难，喘不上气", "zh"), ("I want to kill myself", "en"), ("我不想活了", "zh")]
OTHER_REFUSED = [("你好", "zh"), ("hello", "en"), ("那要多久呢", "zh"), ("谢谢", "zh")]
HOSTILE = [('<script>alert("x")</script>瘦脸针', "zh"), ('"><img src=x onerror=alert(1)>', "en"), ("=HYPERLINK(\"http://x\")", "en")]
DEFAULT_CHUNKS = [
    ("c-palsy", "botox-facial-palsy-recovery.txt", "打瘦脸针面瘫会恢复吗?"),
    ("c-side", "botox-long-term-side-effects.txt", "长期注射肉毒素会产生什么副作用"),
    ("c-massage", "facial-palsy-massage-en.txt", "Facial nerve palsy massage treatment"),
]


def seed(engine: sa.Engine, count: int, *, days: int = 30, seed: int = 18, chunks=None, now: datetime | None = None,
         users: int = 400, batch: int = 5000) -> list[str]:
    """Insert `count` exchanges over the last `days` days; returns their ids (oldest first)."""
    rng = random.Random(seed)
    chunks = list(chunks or DEFAULT_CHUNKS)
    now = now or datetime.now(timezone.utc)
    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    moments = sorted(rng.uniform(0, span) for _ in range(count))
    ids: list[str] = []
    rows, hit_rows = [], []
    for offset in moments:
        kind = rng.random()
        refused = emergency = False
        if kind < 0.62:
            question, lang = rng.choice(ANSWERED)
        elif kind < 0.88:
            (question, lang), refused = rng.choice(NOT_COVERED), True
        elif kind < 0.92:
            (question, lang), refused, emergency = rng.choice(EMERGENCIES), True, True
        elif kind < 0.97:
            (question, lang), refused = rng.choice(OTHER_REFUSED), True
        else:
            (question, lang), refused = rng.choice(HOSTILE), True
        exchange_id = secrets.token_hex(6)
        ids.append(exchange_id)
        feedback = None if refused else rng.choices([None, "up", "down"], [0.7, 0.22, 0.08])[0]
        ts = utc_stamp(start + timedelta(seconds=offset))
        rows.append({
            "id": exchange_id, "ts": ts, "channel": rng.choices(["telegram", "ask", "chat"], [0.85, 0.1, 0.05])[0],
            "user_id": f"u{rng.randrange(users):04d}", "chat_type": "private", "lang": lang, "question": question,
            "searched": None, "reply": ("急症提示：请立即就医。" if emergency else ("抱歉，文章里没有找到答案。" if refused else f"文章中说：……（{question}）")),
            "refused": refused, "emergency": emergency, "latency_ms": int(rng.lognormvariate(6.6, 0.6)),
            "model": "multilingual-e5-small", "index_version": "index-seed", "feedback": feedback,
            "feedback_ts": ts if feedback else None, "delivery_error": "Forbidden: bot was blocked by the user" if rng.random() < 0.01 else None,
        })  # fmt: skip
        if not refused:
            picked = rng.sample(chunks, k=min(len(chunks), rng.randint(1, 3)))
            for rank, (chunk_id, article, title) in enumerate(picked, 1):
                hit_rows.append({"exchange_id": exchange_id, "rank": rank, "chunk_id": chunk_id, "article": article,
                                 "title": title, "score": round(0.95 - 0.07 * rank + rng.uniform(-0.03, 0.03), 4),
                                 "shown": rank <= 2})  # fmt: skip
        if len(rows) >= batch:
            _flush(engine, rows, hit_rows)
    _flush(engine, rows, hit_rows)
    return ids


def _flush(engine: sa.Engine, rows: list[dict], hit_rows: list[dict]) -> None:
    if not rows:
        return
    with engine.begin() as conn:
        conn.execute(exchanges.insert(), rows)
        if hit_rows:
            conn.execute(hits.insert(), hit_rows)
    rows.clear()
    hit_rows.clear()
