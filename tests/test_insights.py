"""Content gaps, re-ask and the article report (insights/), with the real default model,
on SQLite and on PostgreSQL, through the library and through `articlebot logs`."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from common.clock import utc_stamp
from convlog import ConversationLog, ExchangeRecord, LoggedHit
from convlog.review import Filters
from corpus import DEFAULT_CORPUS
from insights import (
    GapGrouper,
    article_report,
    mark_group,
    mark_handled,
    reask,
    unmark_handled,
)
from insights.calibration import calibrate, load_groups, pairwise
from insights.gaps import CROSS_LANGUAGE, THRESHOLD

NOW = datetime.now(timezone.utc).replace(microsecond=0)
LABELLED = Path(__file__).parent / "data" / "gap_groups.toml"

PAIN = ["瘦脸针疼不疼", "瘦脸针疼不疼", "打瘦脸针痛吗？", "瘦脸针打的时候会很疼吗"]
PRICE = ["瘦脸针多少钱", "打一次瘦脸针大概多少钱？", "瘦脸针价格一般是多少"]
COOKING = ["红烧肉怎么做？", "红烧肉的做法"]
COVERED = "打瘦脸针后面瘫多久能恢复？"  # refused once (say, before its article was indexed); the bundled corpus answers it
NOT_GAPS = {  # refused exchanges that are no content gap, by the reason they are left out
    "emergency": ["我不想活了，想自杀"],  # logged as refused, never flagged (e.g. before the rule existed)
    "greeting": ["你好", "hello"],
    "follow_up": ["那要多久呢", "还有呢？"],  # "还有呢" refused: no more for the question before it
    "no_words": ["😀😀", "？？？"],
}
CONTEXT_FOLLOW_UP = "多久能消肿"  # searched together with the previous question (its `searched` column is set)


def record(log: ConversationLog, question: str, *, refused: bool = True, minutes_ago: int = 0, hits=(), feedback=None,
           emergency: bool = False, searched: str | None = None, follow_up: bool = False, user: str = "u1",
           channel: str = "telegram") -> str:  # fmt: skip
    entry = ExchangeRecord(channel=channel, lang="en" if question.isascii() else "zh", question=question, reply="…",
                           refused=refused, emergency=emergency, searched=searched, follow_up=follow_up, hits=list(hits), latency_ms=100,
                           model="multilingual-e5-small", index_version="index-1", user_id=user, chat_type="private",
                           ts=utc_stamp(NOW - timedelta(minutes=minutes_ago)))  # fmt: skip
    log.record(entry)
    if feedback:
        log.feedback(entry.id, feedback)
    return entry.id


def seed_gaps(url: str) -> dict[str, list[str]]:
    """The gap questions and those that are no gap; exchange ids by kind, oldest first."""
    log = ConversationLog(url, salt="seed")
    ids: dict[str, list[str]] = {}
    minutes = 1000
    for kind, questions in {"pain": PAIN, "price": PRICE, "cooking": COOKING, "covered": [COVERED], **NOT_GAPS}.items():
        for question in questions:
            minutes -= 7
            ids.setdefault(kind, []).append(record(log, question, minutes_ago=minutes))
    ids["follow_up"].append(record(log, CONTEXT_FOLLOW_UP, searched=f"瘦脸针疼不疼 {CONTEXT_FOLLOW_UP}", follow_up=True, minutes_ago=5))
    ids["answered"] = [record(log, "长期打肉毒素有什么副作用？", refused=False, minutes_ago=4)]
    ids["flagged"] = [record(log, "胸口剧痛，一直出冷汗", emergency=True, minutes_ago=3)]  # flagged: left out and counted, never read
    log.close()
    return ids


def key_of(exchange_ids: list[str]) -> str:
    """The documented key of a gap: the first 12 hex digits of the sha1 of its sorted exchange ids, one a line."""
    return hashlib.sha1("\n".join(sorted(exchange_ids)).encode()).hexdigest()[:12]


@pytest.fixture(scope="session")
def vectors(tmp_path_factory, warm_vectors):
    from retrieval.vectorcache import VectorCache

    path = tmp_path_factory.mktemp("insights") / "vectors.sqlite"
    shutil.copy(warm_vectors, path)
    return VectorCache(path)


@pytest.fixture(scope="session")
def grouper(e5, vectors, red_flags) -> GapGrouper:
    """As `open_grouper` makes it: the default model, a vector cache, the red-flag rules and meaning layer."""
    return GapGrouper(e5, vectors, red_flags)


@pytest.fixture
def engine(log_url):
    log = ConversationLog(log_url)
    yield log.engine
    log.close()


@pytest.fixture
def gaps_log(log_url, engine):
    return engine, seed_gaps(log_url)


# -- grouping ---------------------------------------------------------------------------


def test_gaps_are_grouped_by_meaning_and_what_is_no_gap_is_left_out(gaps_log, grouper):
    engine, ids = gaps_log
    report = grouper.report(engine, Filters())
    by_ids = {frozenset(g.exchange_ids): g for g in report.groups}
    pain, price, cooking, covered = (by_ids.get(frozenset(ids[k])) for k in ("pain", "price", "cooking", "covered"))
    assert pain and price and cooking and covered, [(g.count, g.examples) for g in report.groups]
    assert [g.count for g in report.groups] == [4, 3, 2, 1]  # biggest first: pain apart from price
    assert pain.examples[0] == "瘦脸针疼不疼" and set(pain.examples) == set(PAIN)  # the repeated one first, each once
    assert pain.label in PAIN and price.label in PRICE
    assert pain.key == key_of(ids["pain"]) and pain.langs == ["zh"] and not pain.handled and pain.handled_ts is None
    assert pain.first_ts == utc_stamp(NOW - timedelta(minutes=993)) and pain.last_ts == utc_stamp(NOW - timedelta(minutes=972))
    assert {q for _, q in pain.questions} == set(PAIN) and len(pain.questions) == 4
    assert report.excluded == {"no_words": 2, "greeting": 2, "follow_up": 3, "emergency": 2, "handled": 0}
    assert report.considered == 10 + 8 + 1 and report.grouped == 10 and not report.capped and report.read == 18
    data = json.loads(json.dumps(report.to_dict()))
    assert data["groups"][0]["exchange_ids"] == sorted(ids["pain"]) and "questions" not in data["groups"][0]


def test_a_question_searched_in_another_form_is_a_gap_and_only_a_follow_up_is_left_out():
    from insights.gaps import _reason

    # a greeting left out, traditional characters simplified, a typo mended: searched in another form, read alone
    for question, searched in [("医生你好，红烧肉怎么做？", "红烧肉怎么做？"), ("紅燒肉怎麼做？", "红烧肉怎么做？"), ("瘦脸真多少钱", "瘦脸针多少钱")]:
        assert _reason(question, searched, False) is None, question
    assert _reason(CONTEXT_FOLLOW_UP, f"瘦脸针疼不疼 {CONTEXT_FOLLOW_UP}", True) == "follow_up"
    # logged before the log said whether it was read with the conversation: `searched` decides, as it did
    assert _reason(CONTEXT_FOLLOW_UP, f"瘦脸针疼不疼 {CONTEXT_FOLLOW_UP}", None) == "follow_up"
    assert _reason("红烧肉怎么做？", None, None) is None


def test_emergencies_are_recognised_by_rules_and_by_meaning_from_cached_vectors(grouper, red_flags):
    meaning_only = "my life feels pointless and I keep thinking everyone would be fine if I just was not here"
    assert red_flags.by_rules(meaning_only) is None and red_flags.assess(meaning_only).by == "meaning"
    assert grouper.emergencies(["我不想活了，想自杀", meaning_only, "瘦脸针多少钱"]) == [True, True, False]


def test_filters_select_the_exchanges_grouped(gaps_log, grouper):
    engine, _ = gaps_log
    report = grouper.report(engine, Filters(since=utc_stamp(NOW - timedelta(minutes=970))))
    assert sorted(g.count for g in report.groups) == [1, 2, 3]  # the four pain questions are older
    assert grouper.report(engine, Filters(channel="ask")).groups == []


def test_handled_gaps_leave_the_report_and_come_back_on_request(gaps_log, grouper):
    engine, ids = gaps_log
    price = key_of(ids["price"])
    assert mark_group(engine, grouper, Filters(), price, note="article written") == 3
    report = grouper.report(engine, Filters())
    assert price not in {g.key for g in report.groups} and report.excluded["handled"] == 3
    assert [g.count for g in report.groups] == [4, 2, 1]
    everything = grouper.report(engine, Filters(), include_handled=True)
    back = everything.group(price)
    assert back is not None and back.handled and back.handled_ts is not None and back.count == 3
    assert not everything.group(key_of(ids["pain"])).handled
    assert mark_group(engine, grouper, Filters(), price) == 0  # marked already
    assert mark_group(engine, grouper, Filters(), "0123456789ab") is None  # no such gap
    assert mark_handled(engine, [ids["pain"][0], "no-such-exchange"]) == 1
    partly = grouper.report(engine, Filters(), include_handled=True).group(key_of(ids["pain"]))
    assert partly is not None and not partly.handled and partly.handled_ts is not None  # one of four marked
    assert grouper.report(engine, Filters()).groups[0].count == 3  # the other three
    assert unmark_handled(engine, [ids["pain"][0]]) == 1
    assert mark_group(engine, grouper, Filters(), price, undo=True) == 3
    assert grouper.report(engine, Filters()).group(price) is not None


def test_a_purged_exchange_takes_its_mark_with_it(gaps_log):
    import sqlalchemy as sa

    from convlog.schema import exchanges, gap_marks

    engine, ids = gaps_log
    assert mark_handled(engine, ids["price"]) == 3
    with engine.begin() as conn:
        conn.execute(exchanges.delete().where(exchanges.c.id == ids["price"][0]))  # ON DELETE CASCADE
        assert conn.execute(sa.select(sa.func.count()).select_from(gap_marks)).scalar_one() == 2


def test_the_calibrated_threshold_is_the_one_shipped(grouper):
    groups = load_groups(LABELLED)
    assert len(groups) >= 40 and sum(len(g.questions) for g in groups) >= 150
    result = calibrate(grouper, groups)
    assert (result["threshold"], result["cross_language"]) == (THRESHOLD, CROSS_LANGUAGE)  # bench/gaps.py prints these figures
    assert result["held"]["ari"] > 0.8 and result["held"]["precision"] > 0.9  # measured: 0.873 and 0.935
    assert pairwise([1, 1, 2, 2], [5, 5, 5, 6]) == (1 / 3, 1 / 2, 0.4)


# -- re-ask -----------------------------------------------------------------------------


def test_reask_answers_what_the_corpus_covers_and_not_the_rest(pipeline):
    results = reask(pipeline, [("e1", COVERED), ("e2", "红烧肉怎么做？"), ("e3", "红烧肉怎么做？"), "我不想活了"])
    assert [r.question for r in results] == [COVERED, "红烧肉怎么做？", "我不想活了"]  # identical ones once
    covered, cooking, crisis = results
    assert covered.answered and covered.exchange_ids == ["e1"] and covered.article == "botox-facial-palsy-recovery.txt"
    assert covered.score is not None and covered.title
    assert not cooking.answered and cooking.exchange_ids == ["e2", "e3"] and cooking.article is None
    assert crisis.emergency and not crisis.answered


# -- articles -----------------------------------------------------------------------------

INDEXED = sorted(p.name for p in Path(DEFAULT_CORPUS).iterdir() if p.suffix == ".txt")
PALSY, SIDE, UNEVEN, SUNKEN, MASSAGE = (
    "botox-facial-palsy-recovery.txt", "botox-long-term-side-effects.txt", "botox-uneven-face-after-injection.txt",
    "botox-sunken-cheeks-sagging-skin.txt", "facial-palsy-massage-en.txt",
)  # fmt: skip


def seed_articles(url: str) -> dict[str, str]:
    def hit(chunk: str, article: str, score: float, shown: bool = True) -> LoggedHit:
        return LoggedHit(chunk, article, article.removesuffix(".txt"), score, shown)

    log = ConversationLog(url, salt="seed")
    ids = {
        "a": record(log, "q1", refused=False, feedback="up", minutes_ago=50,
                    hits=[hit("p1", PALSY, 0.9), hit("p2", PALSY, 0.8), hit("m1", MASSAGE, 0.5, False)]),
        "b": record(log, "q2", refused=False, feedback="down", minutes_ago=40, hits=[hit("p1", PALSY, 0.9), hit("s1", SIDE, 0.7)]),
        "c": record(log, "q3", refused=False, minutes_ago=30, hits=[hit("s1", SIDE, 0.8)]),
        "d": record(log, "q4", refused=True, minutes_ago=20, hits=[hit("m1", MASSAGE, 0.3, False)]),
        "e": record(log, "q5", refused=False, feedback="up", minutes_ago=10, hits=[hit("x1", "old-article.txt", 0.8)]),
        "old": record(log, "q6", refused=False, minutes_ago=60 * 24 * 200, hits=[hit("u1", UNEVEN, 0.8)]),
    }  # fmt: skip
    log.close()
    return ids


def test_article_report_counts_quotes_and_feedback(log_url, engine, bundled_data):
    from retrieval.index import current_version
    from retrieval.store import ChunkStore

    seed_articles(log_url)
    store = ChunkStore(current_version(bundled_data) / "chunks.sqlite")
    articles = store.article_rows()
    assert [a["path"] for a in articles] == INDEXED and all(a["chunks"] > 0 for a in articles)
    report = article_report(engine, articles, Filters())
    got = {a.path: (a.quoted, a.up, a.down) for a in report.articles}
    assert got == {PALSY: (2, 1, 1), SIDE: (2, 0, 1), UNEVEN: (1, 0, 0), SUNKEN: (0, 0, 0), MASSAGE: (0, 0, 0)}
    assert [a.path for a in report.articles][:3] == [PALSY, SIDE, UNEVEN]  # most quoted first
    assert [a.path for a in report.never_quoted] == [SUNKEN, MASSAGE]  # retrieved but never quoted counts as never
    assert [(a.path, a.quoted, a.up) for a in report.not_indexed] == [("old-article.txt", 1, 1)]
    assert report.exchanges == 5
    assert next(a for a in report.articles if a.path == PALSY).last_quoted == utc_stamp(NOW - timedelta(minutes=40))
    recent = article_report(engine, articles, Filters(since=utc_stamp(NOW - timedelta(days=30))))
    assert [a.path for a in recent.never_quoted] == [SUNKEN, UNEVEN, MASSAGE]
    store.close()


def test_store_gives_passage_texts_by_chunk_id(bundled_data):
    from retrieval.index import current_version
    from retrieval.store import ChunkStore

    path = current_version(bundled_data) / "chunks.sqlite"
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT chunk_id, text FROM chunks ORDER BY id LIMIT 3").fetchall()
    store = ChunkStore(path)
    assert store.texts([r[0] for r in rows] + ["gone"]) == dict(rows)
    article = store.article_text(PALSY)
    assert article["path"] == PALSY and article["chunks"] and store.article_text("nope.txt") is None
    store.close()


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_data(tmp_path, bundled_data, warm_vectors, log_url, monkeypatch):
    """The test's data folder: the bundled index, warm vectors, and the log at `log_url`."""
    data = tmp_path / "data"
    shutil.copytree(bundled_data, data)
    shutil.copy(warm_vectors, data / "vectors.sqlite")
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", log_url)
    return data


def logs(*args: str):
    return CliRunner().invoke(main, ["logs", *args], catch_exceptions=False)


def test_cli_gaps_handle_and_reask(cli_data, log_url):
    ids = seed_gaps(log_url)
    data = json.loads(logs("gaps", "--json").output)
    assert [g["count"] for g in data["groups"]] == [4, 3, 2, 1]
    assert data["excluded"] == {"no_words": 2, "greeting": 2, "follow_up": 3, "emergency": 2, "handled": 0}
    price = key_of(ids["price"])
    text = logs("gaps").output
    assert price in text and "瘦脸针疼不疼" in text and "left out: 2 no-words, 2 greeting, 3 follow-up, 2 emergency" in text

    assert "3 questions marked handled" in logs("handle", price).output
    assert price not in logs("gaps").output and price in logs("gaps", "--include-handled").output
    missing = logs("handle", "0123456789ab")
    assert missing.exit_code == 1 and missing.output.startswith("Error: No content gap has the key 0123456789ab")
    assert len(missing.output.strip().splitlines()) == 1

    again = json.loads(logs("reask", "--json").output)
    results = {r["question"]: r for g in again["groups"] for r in g["results"]}
    assert results[COVERED]["answered"] and results[COVERED]["article"] == "botox-facial-palsy-recovery.txt"
    assert not results["红烧肉的做法"]["answered"] and "瘦脸针多少钱" not in results  # handled: not re-asked
    assert again["totals"]["answered"] >= 1 and again["totals"]["questions"] == len(results) == 6
    one = logs("reask", "--group", key_of(ids["covered"]))
    assert "answered" in one.output and "1 of 1 questions answered now" in one.output
    assert logs("reask", "--group", "nope").exit_code == 1


def test_cli_stats_groups_gaps_by_meaning(cli_data, log_url):
    ids = seed_gaps(log_url)
    data = json.loads(logs("stats", "--json").output)
    assert [(g["count"], g["key"]) for g in data["unanswered"]][:2] == [(4, key_of(ids["pain"])), (3, key_of(ids["price"]))]
    assert "[" + key_of(ids["pain"]) + "]" in logs("stats").output


def test_cli_gaps_and_stats_show_a_long_message_on_one_short_line(cli_data, log_url):
    long = "红烧肉到底怎么做才好吃" + "我试了很多次都不成功，" * 400  # 4,400 characters, pasted from somewhere
    log = ConversationLog(log_url, salt="seed")
    record(log, long)
    log.close()
    for command in ("gaps", "stats"):
        lines = logs(command).output.splitlines()
        shown = [line for line in lines if "红烧肉到底怎么做才好吃" in line]
        assert shown and all(len(line) <= 160 and line.endswith(("…", "]")) for line in shown), shown
    assert any(g["label"] == long for g in json.loads(logs("gaps", "--json").output)["groups"])  # all of it in JSON


def test_cli_articles(cli_data, log_url):
    seed_articles(log_url)
    data = json.loads(logs("articles", "--json").output)
    assert {a["path"]: a["quoted"] for a in data["articles"]} == {PALSY: 2, SIDE: 2, UNEVEN: 1, SUNKEN: 0, MASSAGE: 0}
    assert [a["path"] for a in data["never_quoted"]] == [SUNKEN, MASSAGE]
    text = logs("articles").output
    assert "Never quoted:" in text and "old-article.txt" in text
    assert "a copy of another article" not in text  # each has passages of its own (a copy has none)


def test_cli_articles_without_an_index_is_one_sentence(tmp_path, log_url, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", log_url)
    seed_articles(log_url)
    result = logs("articles")
    assert result.exit_code == 1 and result.output.startswith("Error: No index in ") and "articlebot index" in result.output


def test_cli_show_lists_hits_by_score_with_their_text(cli_data, log_url):
    path = next(cli_data.glob("*/chunks.sqlite"))
    with sqlite3.connect(path) as db:
        (chunk, text), = db.execute("SELECT chunk_id, text FROM chunks WHERE article = ? ORDER BY ordinal LIMIT 1", (PALSY,)).fetchall()
    log = ConversationLog(log_url, salt="seed")
    exchange = record(log, "面瘫多久能好", refused=False, hits=[
        LoggedHit("gone-chunk", SIDE, "old", 0.95, False),  # rank 1, score highest, no longer indexed
        LoggedHit(chunk, PALSY, "palsy", 0.5, True),
        LoggedHit("gone-too", MASSAGE, "m", 0.7, False),
    ], user="pseudo-1")  # fmt: skip
    log.close()
    data = json.loads(logs("show", exchange, "--json").output)
    assert [h["score"] for h in data["hits"]] == [0.95, 0.7, 0.5]
    assert [h["text"] for h in data["hits"]] == [None, None, text]
    shown = logs("show", exchange).output
    assert shown.index("0.950") < shown.index("0.700") < shown.index("0.500")
    assert text.strip().splitlines()[0] in shown and "no longer in the index" in shown
    assert "pseudo-1" in logs("list").output


def test_scores_and_counts_read_as_written():
    from bot.cli.common import counted
    from bot.cli.logs import _score

    assert _score(-0.00004) == "0.000" and _score(-0.0012) == "-0.001" and _score(0.0814) == "0.081"
    assert counted(1, "question") == "1 question" and counted(3, "question") == "3 questions"
