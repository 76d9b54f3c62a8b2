"""Blind spots (issue 19): small deliberate bugs that left the suite green, each pinned by a
test that goes through the project's own path (the pipeline the bot calls, the CLI, the
running bot) and whose expected values come from outside the code under test: fixed
literals, hand-computed HMACs, measured margins around the refusal threshold, settings
set the way a user sets them (environment or `.env`)."""

from __future__ import annotations

import difflib
import errno
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import corpus.load
from bot.cli import main
from bot.telegram.fake_botapi import FakeBotAPI, ServerThread, post_to_webhook
from bot.telegram.ratelimit import RateLimiter
from convlog import ConversationLog, pseudonym
from corpus import DEFAULT_CORPUS, read_documents
from corpus.chunk import embed_text
from embeddings import model_info
from presentation.plain import render_text
from presentation.texts import DISCLAIMER, NOT_COVERED
from retrieval.build import build_index
from retrieval.index import Index, current_version
from retrieval.passages import choose
from retrieval.pipeline import Pipeline
from retrieval.records import Hit
from retrieval.safety import DEFAULT_RULES, RedFlags
from retrieval.search import Searcher
from retrieval.sentences import units
from tests.conftest import FakeEncoder
from tests.test_telegram_cli import wait_for

ROOT = Path(__file__).resolve().parents[1]  # the project under test (a child process imports it, not another copy)

# multilingual-e5-small's calibrated refusal threshold (embeddings/registry.py, as shipped):
# a base of 0.057 for a short Chinese question, +0.046 for an English one
ZH_THRESHOLD = 0.057
EN_THRESHOLD = 0.103

# HMAC-SHA256(key=salt, message=str(user id)), the first 16 hex digits, computed outside the
# project: `printf alice | openssl dgst -sha256 -hmac blind-spot-salt`
HMAC_ALICE = {"blind-spot-salt": "e131f1935ded8e85", "another-salt": "f86be9548a8b2054"}
HMAC_4242 = {"blind-spot-salt": "2555551708ed7c14", "another-salt": "f9f1b65cc7c142b2"}
HMAC_4343 = {"blind-spot-salt": "a173d9ac9114d509"}

LONG_TERM = "botox-long-term-side-effects.txt"
LONG_TERM_QUESTION = "长期打肉毒素有什么副作用？"


@pytest.fixture
def cli_data(tmp_path, bundled_data, monkeypatch) -> Path:
    """A data folder of its own holding the bundled index (no log yet), ARTICLEBOT_DATA
    pointing at it; the red flags' meaning layer off (its classifier is trained at each start,
    seconds in this process; these tests are about other settings, the rules file included)."""
    data = tmp_path / "bot-data"
    shutil.copytree(bundled_data, data, ignore=shutil.ignore_patterns("logs*", "log-salt", "*.lock"))
    monkeypatch.setenv("ARTICLEBOT_DATA", str(data))
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    return data


def logged(log: Path, column: str = "user_id") -> list:
    if not log.exists():
        return []
    with sqlite3.connect(log) as db:
        return [row[0] for row in db.execute(f"SELECT {column} FROM exchanges ORDER BY ts, rowid")]


def ask_json(question: str) -> dict:
    result = CliRunner().invoke(main, ["ask", "--json", question], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- 1. the refusal decision, at its edge -----------------------------------------------

# Questions whose best passage's relevance sits just below or just above the threshold,
# measured through the pipeline over the bundled index (margins printed by the tests).
OFF_TOPIC_NEAR = [  # margin measured: -0.023, -0.011, -0.004, -0.004, -0.011, -0.012
    ("What is the capital of France?", EN_THRESHOLD),
    ("Best laptop for students", EN_THRESHOLD),
    ("How long does a cold last?", EN_THRESHOLD),
    ("颈椎病怎么锻炼", ZH_THRESHOLD),
    ("腰椎间盘突出怎么办", ZH_THRESHOLD),
    ("抑郁症有什么表现", ZH_THRESHOLD),
]
ON_TOPIC_NEAR = [  # margin measured: +0.006, +0.007, +0.008, +0.008, +0.019, +0.021, +0.027
    ("木有经验 第一次打瘦脸针选啥样的医生", ZH_THRESHOLD, "botox-facial-palsy-recovery.txt"),
    ("面瘫严重的话光靠按摩行吗", ZH_THRESHOLD, "facial-palsy-massage-en.txt"),
    ("瘦脸针后轻微的大小脸别人能看出来吗？", ZH_THRESHOLD, "botox-uneven-face-after-injection.txt"),
    ("廋脸针打完面瘫了还能好不", ZH_THRESHOLD, "botox-facial-palsy-recovery.txt"),
    ("肉毒素打多了会产生抗体吗", ZH_THRESHOLD, LONG_TERM),
    ("massage for bell's palsy", EN_THRESHOLD, "facial-palsy-massage-en.txt"),
    ("Will my sunken cheeks recover after jaw botox?", EN_THRESHOLD, "botox-sunken-cheeks-sagging-skin.txt"),
]
SHARP = 0.05  # every question above is this close to the threshold: a looser or stricter gate flips it


def _margin(answer, threshold: float) -> float:
    return max(h.score for h in answer.hits) - threshold


@pytest.mark.parametrize("question,threshold", OFF_TOPIC_NEAR)
def test_off_topic_questions_just_below_the_threshold_are_refused(pipeline, question, threshold):
    answer = pipeline.answer(question)
    margin = _margin(answer, threshold)
    print(f"\n{margin:+.4f} {question}")
    assert answer.threshold == pytest.approx(threshold)
    assert -SHARP < margin < 0, "the question no longer sits just below the threshold: pick another"
    assert answer.refused and answer.passages == []
    assert NOT_COVERED[answer.lang] in render_text(answer)


@pytest.mark.parametrize("question,threshold,article", ON_TOPIC_NEAR)
def test_on_topic_questions_just_above_the_threshold_are_answered(pipeline, question, threshold, article):
    answer = pipeline.answer(question)
    margin = _margin(answer, threshold)
    print(f"\n{margin:+.4f} {question}")
    assert answer.threshold == pytest.approx(threshold)
    assert 0 < margin < SHARP, "the question no longer sits just above the threshold: pick another"
    assert not answer.refused
    assert answer.passages[0].hit.article == article


def _hit(chunk_id: str, score: float) -> Hit:
    return Hit(chunk_id=chunk_id, article="a.txt", title="A", url=None, heading=None,
               text="瘦脸针的效果通常维持3到6个月。", score=score)  # fmt: skip


def test_choose_refuses_a_thousandth_below_and_quotes_at_or_a_thousandth_above():
    t = ZH_THRESHOLD
    below = choose("瘦脸针能维持多久", [_hit("c1", t - 0.001)], "zh", t)
    assert below.refused and below.passages == [] and below.threshold == t
    above = choose("瘦脸针能维持多久", [_hit("c1", t + 0.001)], "zh", t)
    assert not above.refused and [p.hit.chunk_id for p in above.passages] == ["c1"]
    at = choose("瘦脸针能维持多久", [_hit("c1", t)], "zh", t)
    assert not at.refused and [p.hit.chunk_id for p in at.passages] == ["c1"]
    # a second passage close to the best but under the threshold is not quoted
    mixed = choose("瘦脸针能维持多久", [_hit("c1", t + 0.001), _hit("c2", t - 0.001)], "zh", t)
    assert [p.hit.chunk_id for p in mixed.passages] == ["c1"]


# --- 2. negation windows -----------------------------------------------------------------

# A negation far before the red flag, in the same clause, does not negate it: Chinese looks
# at the 4 characters before, English at the 3 words before.
FAR_NEGATION = [
    ("我没吃药突然喘不上气", "breathing"),  # 没 5 characters before
    ("没吃药突然胸口剧痛", "chest_pain"),
    ("我没发烧也没咳嗽就是突然喘不上气", "breathing"),
    ("我没有发烧，但是现在喘不上气", "breathing"),
    ("I never said that my chest hurts badly", "chest_pain"),  # "never" 4 words before
    ("I don't know what happened and I can't breathe", "breathing"),
    ("I didn't take anything and suddenly I can't breathe", "breathing"),
    ("I don't know what happened but now I can't breathe", "breathing"),
]
# ...while one just before it, up to the edge of the window, still does.
NEAR_NEGATION = [
    "没有突然胸痛",  # 没 4 characters before
    "没有胸口剧痛",
    "我没有喘不上气",
    "never had severe chest pain",  # "never" 3 words before
    "I have never had chest pain",
    "I did not have chest pain",
    "he is not unresponsive",
]


@pytest.fixture(scope="module")
def rules_only() -> RedFlags:
    return RedFlags.load()


@pytest.mark.parametrize("message,category", FAR_NEGATION)
def test_a_negation_far_before_a_red_flag_does_not_hide_it(rules_only, red_flags, message, category):
    for flags in (rules_only, red_flags):  # the rules alone, and with the meaning layer as the bot runs them
        found = flags.assess(message)
        assert (found.emergency, found.by) == (category, "rules"), message


@pytest.mark.parametrize("message", NEAR_NEGATION)
def test_a_negation_just_before_a_red_flag_still_negates_it(rules_only, message):
    assert rules_only.assess(message).emergency is None


# --- 3. re-indexing keeps the vectors it reuses ------------------------------------------

NEW_ARTICLE = (
    "打溶解酶有哪些风险\n\n"
    "玻尿酸溶解酶的主要成分是透明质酸酶,可以分解注射到皮肤里的玻尿酸,常用于处理玻尿酸注射后的硬结、凸起或栓塞。"
    "打溶解酶可能出现过敏反应,严重时会出现呼吸困难,因此注射前通常需要做皮试。\n"
)


@pytest.fixture(scope="module")
def reindexed(tmp_path_factory, bundled_data, e5):
    """The bundled corpus indexed in a data folder of its own, then one article added and
    indexed again (incrementally). The folder starts with the session's vector cache, so the
    first build embeds nothing it does not have to."""
    root = tmp_path_factory.mktemp("reindexed")
    articles = root / "corpus"
    shutil.copytree(DEFAULT_CORPUS, articles)
    data = root / "data"
    data.mkdir()
    shutil.copy(bundled_data / "vectors.sqlite", data / "vectors.sqlite")
    build_index(articles, data, e5)
    (articles / "hyaluronidase-risks.txt").write_text(NEW_ARTICLE, "utf-8")
    report = build_index(articles, data, e5)
    return data, report


def _stored(data: Path, slot: int = 0) -> dict[str, tuple[str, np.ndarray]]:
    """content hash -> (article, vector) as the live version stores them (read with sqlite3)."""
    with sqlite3.connect(current_version(data) / "chunks.sqlite") as db:
        rows = db.execute("SELECT c.content_hash, c.article, v.vector FROM chunks c JOIN vectors v ON v.id = c.id"
                          " WHERE v.slot = ?", (slot,)).fetchall()  # fmt: skip
    return {h: (article, np.frombuffer(blob, dtype=np.float32)) for h, article, blob in rows}


def test_after_a_reindex_unchanged_articles_are_still_answered(reindexed, e5):
    data, report = reindexed
    assert report.added == ["hyaluronidase-risks.txt"] and len(report.unchanged) == 5
    assert 0 < report.embedded < report.chunks  # the unchanged articles' vectors were reused
    info = model_info(e5.name)
    index = Index.load(data, e5.name)
    try:
        pipeline = Pipeline(Searcher(index, e5), min_score=info.min_score, offsets=dict(info.min_score_offsets))
        for question, article in [(LONG_TERM_QUESTION, LONG_TERM),
                                  ("Can massage help facial nerve palsy?", "facial-palsy-massage-en.txt"),
                                  ("打溶解酶会有什么危害？", "hyaluronidase-risks.txt")]:  # fmt: skip
            answer = pipeline.answer(question)
            assert not answer.refused, question
            assert answer.passages[0].hit.article == article, question
    finally:
        index.close()


def test_reused_vectors_equal_those_of_a_fresh_full_build(reindexed, bundled_data):
    data, report = reindexed
    fresh = _stored(bundled_data)  # the session's index: built from nothing, every chunk embedded
    reused = {h: v for h, (article, v) in _stored(data).items() if article in report.unchanged}
    assert len(reused) == len(fresh) == report.chunks - report.embedded
    for content_hash, vector in reused.items():
        assert np.allclose(vector, fresh[content_hash][1], atol=1e-6), fresh[content_hash][0]
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)


# --- 4. no vectors reused across models ---------------------------------------------------


class RolledEncoder(FakeEncoder):
    """Another fake model: the same dimension, different vectors."""

    def encode(self, texts, **kw) -> np.ndarray:
        return np.roll(super().encode(texts, **kw), 1, axis=1)


def test_reindexing_with_another_model_stores_that_models_vectors(tmp_path):
    first, second = FakeEncoder("fake-first"), RolledEncoder("fake-second")
    data = tmp_path / "data"
    build_index(DEFAULT_CORPUS, data, first)
    report = build_index(DEFAULT_CORPUS, data, second)  # incremental: same articles, other model
    with sqlite3.connect(current_version(data) / "chunks.sqlite") as db:
        chunks = db.execute("SELECT c.id, c.title, c.heading, c.text, v.vector FROM chunks c JOIN vectors v ON v.id = c.id"
                            " WHERE v.slot = 0 ORDER BY c.id").fetchall()  # fmt: skip
        sentences = db.execute("SELECT s.n, c.text, s.vector FROM sentences s JOIN chunks c ON c.id = s.id"
                               " ORDER BY s.id, s.n").fetchall()  # fmt: skip
    texts = [embed_text(title, heading, text) for _, title, heading, text, _ in chunks]
    stored = np.stack([np.frombuffer(blob, dtype=np.float32) for *_, blob in chunks])
    assert not np.allclose(first.encode(texts), second.encode(texts))  # the two models do differ
    assert np.allclose(stored, second.encode(texts), atol=1e-6)
    said = [[s for _, s in units(text)][n] for n, text, _ in sentences]
    stored_sentences = np.stack([np.frombuffer(blob, dtype=np.float32) for *_, blob in sentences])
    assert np.allclose(stored_sentences, second.encode(said), atol=1e-6)
    assert report.embedded == report.chunks and report.sentences_embedded > 0


# --- 5. pseudonyms: salted, as configured -------------------------------------------------


def test_the_pseudonym_is_the_salted_hmac_computed_by_hand(tmp_path):
    assert pseudonym(4242, "blind-spot-salt") == "2555551708ed7c14"
    assert pseudonym("4242", "blind-spot-salt") == "2555551708ed7c14"
    assert pseudonym(4242, "another-salt") == "f9f1b65cc7c142b2"  # another salt, another pseudonym
    assert pseudonym("alice", "blind-spot-salt") == "e131f1935ded8e85"
    log = ConversationLog(f"sqlite:///{tmp_path / 'logs.db'}", salt="blind-spot-salt")
    try:
        assert log.user(4242) == HMAC_4242["blind-spot-salt"] and log.user(None) is None
    finally:
        log.close()


def test_log_salt_set_in_the_environment_pseudonymises_the_user_of_ask(cli_data, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_LOG_SALT", "blind-spot-salt")
    monkeypatch.setenv("LOGNAME", "alice")  # who is at the terminal (getpass)
    assert not ask_json(LONG_TERM_QUESTION)["refused"]
    assert logged(cli_data / "logs.db") == [HMAC_ALICE["blind-spot-salt"]]
    assert not (cli_data / "log-salt").exists()  # the configured salt was used, none was made


def test_log_salt_set_in_a_dotenv_file_pseudonymises_the_user_of_ask(cli_data, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / ".env").write_text("ARTICLEBOT_LOG_SALT=another-salt\n")
    env = {**os.environ, "LOGNAME": "alice", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot", "ask", LONG_TERM_QUESTION], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rstrip().endswith(DISCLAIMER["zh"])
    assert logged(cli_data / "logs.db") == [HMAC_ALICE["another-salt"]]


def test_raw_user_ids_set_in_the_environment_are_stored_raw_by_ask(cli_data, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_LOG_RAW_USER_IDS", "1")
    monkeypatch.setenv("LOGNAME", "alice")
    ask_json(LONG_TERM_QUESTION)
    assert logged(cli_data / "logs.db") == ["alice"]


# --- the running bot (`articlebot run`), configured by its environment ----------------------


@contextmanager
def running(data: Path, api: FakeBotAPI, tmp_path: Path, *args: str, **env: str):
    """`articlebot run` in a child process against the fake Bot API; stopped (bounded) on exit."""
    full_env = {**os.environ, "ARTICLEBOT_DATA": str(data), "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_URL": api.url, "PYTHONPATH": str(ROOT), **env}  # fmt: skip
    out = tmp_path / "bot.out"
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", *args], cwd=ROOT, env=full_env, stdout=sink,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            yield proc, out
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def _ask_bot(thread: ServerThread, api: FakeBotAPI, text: str, user_id: int) -> str:
    message = thread.call(api.message(text, user_id=user_id))
    assert wait_for(lambda: api.replies_to(message), 60), f"no reply to {text!r}"
    return "\n".join(r["params"]["text"] for r in api.replies_to(message))


def test_questions_per_minute_and_log_salt_from_the_environment_reach_the_running_bot(cli_data, tmp_path):
    api = FakeBotAPI()
    thread = ServerThread(api)
    with thread, running(cli_data, api, tmp_path, ARTICLEBOT_QUESTIONS_PER_MINUTE="2",
                         ARTICLEBOT_LOG_SALT="blind-spot-salt") as (proc, out):  # fmt: skip
        assert wait_for(lambda: api.of("getUpdates") or proc.poll() is not None, 90), "the bot never polled"
        assert proc.poll() is None, out.read_text()[-2000:]
        for _ in range(2):
            assert "📄" in _ask_bot(thread, api, LONG_TERM_QUESTION, 4242)
        third = _ask_bot(thread, api, LONG_TERM_QUESTION, 4242)
        assert "您提问有点快，请稍等" in third and "📄" not in third  # the limit is the environment's 2, not 6
        assert "📄" in _ask_bot(thread, api, LONG_TERM_QUESTION, 4343)  # another user is not limited
        assert wait_for(lambda: len(logged(cli_data / "logs.db")) == 3, 30)
    assert logged(cli_data / "logs.db") == [HMAC_4242["blind-spot-salt"]] * 2 + [HMAC_4343["blind-spot-salt"]]


def test_raw_user_ids_from_the_environment_are_logged_raw_by_the_running_bot(cli_data, tmp_path):
    api = FakeBotAPI()
    thread = ServerThread(api)
    with thread, running(cli_data, api, tmp_path, ARTICLEBOT_LOG_RAW_USER_IDS="1") as (proc, out):
        assert wait_for(lambda: api.of("getUpdates") or proc.poll() is not None, 90), "the bot never polled"
        assert "📄" in _ask_bot(thread, api, LONG_TERM_QUESTION, 4242)
        assert wait_for(lambda: logged(cli_data / "logs.db"), 30), out.read_text()[-2000:]
    assert logged(cli_data / "logs.db") == ["4242"]


# --- 6. the webhook started by `articlebot run` checks its secret ---------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_webhook_run_registers_takes_its_secret_from_the_environment(cli_data, tmp_path):
    port = _free_port()
    api = FakeBotAPI()

    def post(secret: str | None, update_id: int, chat: int) -> int:
        update = {"update_id": update_id, "message": {
            "message_id": update_id, "date": int(time.time()), "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "u", "language_code": "zh-hans"},
            "text": LONG_TERM_QUESTION}}  # fmt: skip
        return post_to_webhook(f"http://127.0.0.1:{port}/hook", update, secret)  # 0: not listening yet

    with ServerThread(api), running(cli_data, api, tmp_path, "--webhook-url", "https://bot.example.org/hook",
                                    "--url-path", "hook", "--port", str(port),
                                    TELEGRAM_WEBHOOK_SECRET="blind-spot-secret") as (proc, out):  # fmt: skip
        assert wait_for(lambda: api.of("setWebhook") or proc.poll() is not None, 90), "the webhook was never set"
        assert proc.poll() is None, out.read_text()[-2000:]
        registered = api.of("setWebhook")[0]["params"]
        assert registered["url"] == "https://bot.example.org/hook"
        assert registered.get("secret_token") == "blind-spot-secret"
        assert wait_for(lambda: post(None, 1, 61) != 0, 30), "the webhook server never listened"
        assert post(None, 2, 61) == 403 and post("a-guess", 3, 61) == 403
        assert post("blind-spot-secret", 4, 62) == 200
        assert wait_for(lambda: api.texts_to(62), 60), out.read_text()[-2000:]
        assert "长期注射肉毒素会产生什么副作用" in api.texts_to(62)[0]
        time.sleep(1)
        assert api.texts_to(61) == []  # no forged update was answered


# --- 7. the rate limit's window ---------------------------------------------------------------


def test_the_rate_limit_window_expires_after_window_seconds_and_not_before():
    now = [1000.0]
    limiter = RateLimiter(2, window=60.0, clock=lambda: now[0])
    assert limiter.check(7) == 0
    now[0] = 1010.0
    assert limiter.check(7) == 0
    now[0] = 1030.0
    assert limiter.check(7) == 30  # full: the first question leaves the window in 30 s
    now[0] = 1059.999
    assert limiter.check(7) == 1  # just before
    assert limiter.check(8) == 0  # another user
    now[0] = 1060.0
    assert limiter.check(7) == 0  # the first question is 60 s old: one more may be asked
    assert limiter.check(7) == 10  # full again until the one of 1010 leaves (1070)
    now[0] = 1069.999
    assert limiter.check(7) == 1
    now[0] = 1070.0
    assert limiter.check(7) == 0


# --- the red-flag rules file set in the environment ------------------------------------------

BURN_RULE = """
[emergency.burn]
zh_notice = "⚠️ 大面积烧伤：请立即拨打 {zh_emergency}，并用流动的凉水冲洗伤处。"
en_notice = "⚠️ A large burn: call {en_emergency} now and cool the burn under running water."
phrases = ["大面积 + 烧伤|烫伤"]
"""


def test_red_flag_rules_set_in_the_environment_change_what_ask_flags(cli_data, tmp_path, monkeypatch):
    """An operator's copy of the rules, with another country's number and a rule of their own."""
    custom = tmp_path / "my-redflags.toml"
    text = DEFAULT_RULES.read_text("utf-8")
    assert text.count('zh_emergency = "120"') == 1
    custom.write_text(text.replace('zh_emergency = "120"', 'zh_emergency = "112"') + BURN_RULE, "utf-8")
    burn, throat = "手臂大面积烧伤，皮肤都起泡了", "打完瘦脸针喉咙发紧，喘不上气"

    assert "大面积烧伤：请立即拨打" not in ask_json(burn)["reply"]  # without the setting: the bundled rules

    monkeypatch.setenv("ARTICLEBOT_REDFLAGS", str(custom))
    flagged = ask_json(burn)
    assert flagged["emergency"] is True
    assert flagged["reply"].startswith("⚠️ 大面积烧伤：请立即拨打 112，并用流动的凉水冲洗伤处。")
    notice = ask_json(throat)["reply"].split("\n\n")[0]  # the bundled rules say 120 here
    assert "拨打 112" in notice and "120" not in notice


# --- an unreadable article, also when the tests run as root -------------------------------


def test_an_unreadable_article_is_skipped_with_its_reason_even_as_root(tmp_path, monkeypatch, fake_encoder):
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(DEFAULT_CORPUS / LONG_TERM, root / "good.txt")
    locked = root / "locked.txt"
    locked.write_text("面瘫怎么办\n面瘫患者通常可以通过简单的面部康复锻炼来促进恢复。", "utf-8")
    real_open = os.open

    def open_as_the_os_would(path, flags, *args, **kwargs):  # root reads through chmod 000: refuse as the OS would
        if Path(path) == locked.resolve():
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(corpus.load.os, "open", open_as_the_os_would)
    locked.chmod(0)
    try:
        docs, problems = read_documents(root)
        report = build_index(root, tmp_path / "data", fake_encoder)
    finally:
        locked.chmod(0o644)
    assert [d.path for d in docs] == ["good.txt"]
    assert [(p.path, p.reason) for p in problems] == [("locked.txt", "cannot be read (Permission denied)")]
    assert report.added == ["good.txt"]
    assert [(p.path, p.reason) for p in report.problems] == [("locked.txt", "cannot be read (Permission denied)")]


# --- the passages a reply quotes are different passages -------------------------------------

# The bundled article on long-term side effects, as another site re-posted it: a few words
# changed, so it is kept as a passage of its own (chunk.py collapses only copies closer
# than 0.95 across articles), but it is the same text to a reader.
REPOST = (
    "长期注射肉毒素有哪些副作用（转载）\n\n"
    "长期注射肉毒素可能带来的副作用有肌肉萎缩、抗体产生、过敏反应、局部僵硬及影响神经功能。长期频繁注射肉毒素,"
    "会使肌肉长时间处于松弛状态,导致肌肉逐渐萎缩,比如咬肌注射后可能脸颊凹陷。多次注射后身体免疫系统会产生抗体,"
    "中和肉毒素,降低后续治疗效果。少数人可能出现过敏症状,严重的会危及生命。长期注射还可能导致局部肌肉运动不协调,"
    "表情僵硬。此外,长期使用可能影响周围神经,导致神经传导功能异常,出现局部麻木、感觉减退等症状。\n"
)


def _quotes(reply: str) -> list[str]:
    """The quoted passages of a plain reply: each block under a "📄 title" line, without the title and link."""
    return ["\n".join(line for line in block.split("\n")[1:] if not line.startswith("🔗"))
            for block in reply.split("\n\n") if block.startswith("📄 ")]  # fmt: skip


def test_a_reply_never_quotes_the_same_text_twice(tmp_path, bundled_data, e5, monkeypatch):
    articles = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, articles)
    (articles / "botox-side-effects-repost.txt").write_text(REPOST, "utf-8")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(bundled_data / "vectors.sqlite", data / "vectors.sqlite")  # only the re-post is embedded
    report = build_index(articles, data, e5)
    assert "botox-side-effects-repost.txt" not in report.duplicates  # the re-post is in the index
    monkeypatch.setenv("ARTICLEBOT_DATA", str(data))
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    for question in [LONG_TERM_QUESTION, "打肉毒素会过敏吗", "经常打肉毒素会导致肌肉萎缩吗"]:
        reply = ask_json(question)
        quotes = _quotes(reply["reply"])
        assert 1 <= len(quotes) <= 2, reply["reply"]  # at most two passages (passages.MAX_PASSAGES)
        assert reply["hits"][0]["article"] == LONG_TERM
        for i, one in enumerate(quotes):
            for other in quotes[i + 1 :]:
                same = difflib.SequenceMatcher(None, one.strip("…"), other.strip("…")).ratio()
                assert same < 0.6, f"{question}: the reply quotes the same text twice ({same:.2f})\n{reply['reply']}"
