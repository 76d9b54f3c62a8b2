"""The web console's defences, against a real server over plain HTTP (no browser), on SQLite
and on PostgreSQL: sign-in, sessions, CSRF, Origin, Host (DNS rebinding), throttling,
escaping, the Content-Security-Policy, safe redirects, the exports, and `articlebot console`.

No test here needs a model: /gaps and /articles are only checked for being refused
without a session (an unauthenticated request never reaches the code that loads one).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from common.clock import utc_stamp
from console.auth import COOKIE
from convlog import ConversationLog, ExchangeRecord, LoggedHit

TOKEN = "console-test-token-0123456789"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://x")'
NOW = datetime.now(timezone.utc).replace(microsecond=0)
HIT = LoggedHit("c1", "botox-facial-palsy-recovery.txt", "打瘦脸针面瘫会恢复吗?", 0.91, True)
PAGES = ("/", "/gaps", "/conversations", "/exchanges/{id}", "/articles", "/articles/view?path=x.txt", "/export.csv",
         "/export.jsonl")  # fmt: skip
POSTS = ("/gaps/handle", "/gaps/reask", "/logout")
REPO = Path(__file__).resolve().parent.parent

# name: (question, refused, emergency)
ROWS = {
    "answered": ("打瘦脸针后面瘫多久能恢复？", False, False),
    "answered_en": ("Can massage help facial palsy?", False, False),
    "not_covered": ("瘦脸针多少钱一针", True, False),
    "emergency": ("打完针呼吸困难，喘不上气", True, True),
    "emergency_en": ("I want to kill myself", True, True),
    "script": (SCRIPT, True, False),
    "img": (IMG, True, False),
    "formula": (FORMULA, True, False),
    "greeting": ("你好", True, False),
    "emoji": ("👍👍", True, False),
    "blank": ("", True, False),
}
SMALL_TALK = ("greeting", "emoji", "blank")  # refused, but no question: the overview's "greetings and chat"
SECRET_WORDS = ("瘦脸针", "呼吸困难", "kill myself", "alert(1)", "HYPERLINK")  # logged text that must not leak


def seed(url: str) -> dict[str, str]:
    """One exchange per ROWS entry, a minute apart; returns their ids by name."""
    log = ConversationLog(url, salt="seed")
    ids = {}
    for i, (name, (question, refused, emergency)) in enumerate(ROWS.items()):
        record = ExchangeRecord(channel="telegram", lang="en" if question.isascii() else "zh", question=question,
                                reply=("请立即就医。" if emergency else f"回复：{question}"), refused=refused,
                                hits=[] if refused else [HIT], latency_ms=300, user_id=f"u{i}", chat_type="private",
                                emergency=emergency, ts=utc_stamp(NOW - timedelta(hours=2) + timedelta(minutes=i)))  # fmt: skip
        assert log.record(record)
        ids[name] = record.id
    log.close()
    return ids


@dataclass
class Served:
    url: str
    ids: dict[str, str]
    engine: sa.Engine

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, **kwargs)

    @contextlib.contextmanager
    def signed_in(self) -> Iterator[httpx.Client]:
        with self.client() as client:
            response = client.post("/login", data={"token": TOKEN, "next": "/conversations"})
            assert response.status_code == 303, response.text
            yield client


@pytest.fixture
def served(log_url, monkeypatch):
    """The console on 127.0.0.1 over a seeded log; sign-in throttled at 10 wrong tokens per 2 s."""
    from bot.config import Config
    from console import app as console_app
    from console.auth import Throttle
    from console.server import open_engine, running

    monkeypatch.setattr(console_app, "Throttle", functools.partial(Throttle, limit=10, window=2.0))
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", log_url)
    ids = seed(log_url)
    config = Config.from_env()
    engine = open_engine(config)
    try:
        with running(config, engine, TOKEN) as url:
            yield Served(url, ids, engine)
    finally:
        engine.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def csp_directives(response: httpx.Response) -> dict[str, str]:
    header = response.headers.get("content-security-policy", "")
    return {part.strip().split()[0]: " ".join(part.strip().split()[1:]) for part in header.split(";") if part.strip()}


def assert_no_scripts(response: httpx.Response) -> None:
    csp = csp_directives(response)
    assert csp.get("default-src") == "'none'", csp
    assert csp.get("script-src", "'none'") == "'none'", csp
    assert csp.get("script-src-elem", "'none'") == "'none'", csp


# --- without a session ---------------------------------------------------------------------


def test_every_page_is_refused_without_a_session(served):
    with served.client() as client:
        for page in PAGES:
            path = page.format(id=served.ids["emergency"])
            response = client.get(path)
            assert response.status_code in (303, 307, 401, 403), (path, response.status_code)
            if response.is_redirect:
                assert response.headers["location"].startswith("/login"), path
            for word in SECRET_WORDS:
                assert word not in response.text, (path, word)
            assert served.ids["emergency"] not in response.text.replace(path, ""), path
        # a wrong bearer token is no way in either
        response = client.get("/export.jsonl", headers={"Authorization": "Bearer not-the-token-at-all"})
        # a script sees the error itself, not a redirect to a sign-in page it cannot use
        assert response.status_code == 401 and "HYPERLINK" not in response.text and "set-cookie" not in response.headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        # the control: the same client, signed in, sees the log
        assert client.post("/login", data={"token": TOKEN}).status_code == 303
        assert "瘦脸针" in client.get("/conversations").text


def test_a_script_downloads_an_export_with_the_token_for_that_request_only(served):
    with served.client() as client:
        response = client.get("/export.csv", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200 and "瘦脸针" in response.text
        assert "set-cookie" not in response.headers and not client.cookies  # no session was opened
        assert client.get("/export.csv").status_code == 303  # the next request without it is signed out
        # the token opens no form: a POST needs a signed-in session and its CSRF token
        assert client.post("/gaps/handle", data={"key": "k"}, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403


def test_the_token_in_a_header_opens_no_page(served):
    """Bearer is for downloads (README): a page asked for with it is refused, with a sentence a script can read."""
    with served.client() as client:
        for page in ("/", "/conversations", "/conversations?outcome=not_covered", f"/exchanges/{served.ids['not_covered']}", "/gaps",
                     "/articles"):  # fmt: skip
            response = client.get(page, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 403, (page, response.status_code)
            assert "downloads only" in response.text and "set-cookie" not in response.headers, page
            for word in SECRET_WORDS:
                assert word not in response.text, (page, word)
        assert client.get("/export.jsonl", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200  # the control


def test_posts_are_refused_without_a_session(served):
    with served.client() as client:
        for path in POSTS:
            response = client.post(path, data={"csrf": "x", "key": "k"})
            assert response.status_code == 403, (path, response.status_code)
    with served.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM gap_marks")).scalar_one() == 0


# --- signing in ----------------------------------------------------------------------------


def test_wrong_token_gives_401_and_no_cookie(served):
    with served.client() as client:
        response = client.post("/login", data={"token": TOKEN[:-1] + "X"})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert not client.cookies
        assert client.get("/conversations").status_code == 303


def test_right_token_sets_a_strict_httponly_cookie(served):
    with served.client() as client:
        response = client.post("/login", data={"token": TOKEN, "next": "/conversations?lang=zh"})
        assert response.status_code == 303
        assert response.headers["location"] == "/conversations?lang=zh"
        cookie = response.headers["set-cookie"].lower()
        attributes = {part.strip().split("=")[0]: part.strip() for part in cookie.split(";")}
        assert "httponly" in attributes, cookie
        assert attributes.get("samesite") == "samesite=strict", cookie
        page = client.get("/conversations")
        assert page.status_code == 200 and "瘦脸针" in page.text


def test_wrong_tokens_are_throttled(served):
    with served.client() as client:
        for _ in range(10):
            assert client.post("/login", data={"token": "wrong-token-wrong-token"}).status_code == 401
        started = time.monotonic()
        refused = client.post("/login", data={"token": TOKEN})
        assert refused.status_code == 429, refused.status_code
        assert "set-cookie" not in refused.headers
        assert client.post("/login", data={"token": TOKEN}).status_code == 429  # still, for a while
        scripted = client.get("/export.csv", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scripted.status_code == 429 and int(scripted.headers["retry-after"]) >= 1
        # after the window (2 s here) the right token works again
        deadline = started + 10
        while True:
            response = client.post("/login", data={"token": TOKEN})
            if response.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 303
        assert client.get("/conversations").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil", "/\\/evil.example",
                                    "http:/evil.example", "/\t/evil.example", " //evil.example"])  # fmt: skip
def test_safe_next_refuses_other_sites(target):
    from console.auth import safe_next

    assert safe_next(target) == "/"
    assert safe_next("/conversations?lang=en") == "/conversations?lang=en"


def test_login_never_redirects_to_another_site(served):
    with served.client() as client:
        for target in ("//evil.example", "https://evil.example/x", "/\\evil"):
            page = client.get("/login", params={"next": target})
            assert page.status_code == 200 and "evil" not in page.text
            response = client.post("/login", data={"token": TOKEN, "next": target})
            assert response.status_code == 303 and response.headers["location"] == "/", target
        # an unauthenticated visit keeps its own path, which sign-in then goes back to
        response = client.post("/login", data={"token": TOKEN, "next": "/conversations?outcome=emergency"})
        assert response.headers["location"] == "/conversations?outcome=emergency"


# --- what the pages show -------------------------------------------------------------------


def test_logged_html_is_escaped_and_scripts_are_forbidden(served):
    with served.signed_in() as client:
        pages = [client.get("/conversations"), client.get(f"/exchanges/{served.ids['script']}"),
                 client.get(f"/exchanges/{served.ids['img']}")]  # fmt: skip
        for response in pages:
            assert response.status_code == 200
            assert_no_scripts(response)
            assert "<script>alert(1)" not in response.text
            assert "<img src=x" not in response.text
            assert "<script" not in response.text.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0].text
        assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0].text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1].text
        assert "&lt;img src=x onerror=alert(1)&gt;" in pages[2].text
        assert '"><img' not in pages[2].text
        assert pages[0].headers.get("x-frame-options") == "DENY"


def big_number(html: str, before: str) -> int:
    """The figure a page shows right after `before` (an element's opening markup)."""
    found = re.search(re.escape(before) + r"(\d+)<", html)
    assert found, f"no {before} in the page"
    return int(found.group(1))


def test_overview_and_the_not_covered_filter_count_alike(served):
    """Greetings, emoji and empty messages are "greetings and chat", not "not covered" and not
    questions: the overview's cards, the conversations filter and its count agree."""
    with served.signed_in() as client:
        overview = client.get("/", params={"since": "2000-01-01"}).text
        listed = client.get("/conversations", params={"outcome": "not_covered"}).text
    small_talk = len(SMALL_TALK)
    not_covered = sum(1 for name, (_, refused, emergency) in ROWS.items() if refused and not emergency and name not in SMALL_TALK)
    assert big_number(overview, '<span class="big" id="small-talk">') == small_talk
    assert big_number(overview, '<div class="card not_covered"><span class="big">') == not_covered
    assert big_number(overview, '<span class="big" id="total">') == len(ROWS) - small_talk  # "N questions"
    assert big_number(listed, '<span id="matches">') == not_covered
    assert "你好" not in listed and "👍👍" not in listed


def test_small_talk_has_its_own_outcome_and_the_overview_links_its_range(served):
    with served.signed_in() as client:
        greeting = client.get(f"/exchanges/{served.ids['greeting']}").text
        refusal = client.get(f"/exchanges/{served.ids['not_covered']}").text
        chat = client.get("/conversations", params={"outcome": "small_talk"}).text
        everything = client.get("/conversations").text
        overview = client.get("/", params={"since": "2000-01-01", "until": "2999-12-31"}).text
    assert '<span class="badge small_talk">greeting, thanks, no words</span>' in greeting and "not covered" not in greeting
    assert '<span class="badge not_covered">not covered</span>' in refusal
    assert big_number(chat, '<span id="matches">') == len(SMALL_TALK) and "瘦脸针多少钱一针" not in chat
    assert everything.count('<span class="badge small_talk">') == len(SMALL_TALK)
    # the "not covered" card opens the gaps of the range shown, its end included
    assert '<a href="/gaps?since=2000-01-01&amp;until=2999-12-31">not covered</a>' in overview


def test_a_wrong_filter_is_one_sentence(served):
    with served.signed_in() as client:
        page = client.get("/conversations", params={"outcome": "bogus"})
        assert page.status_code == 400 and "&#39;bogus&#39; is not an outcome (use one of:" in page.text
        download = client.get("/export.csv", params={"feedback": "bogus"})
        assert download.status_code == 400 and download.text.startswith("'bogus' is not a feedback (use one of:")


# --- CSRF, Origin, Host ----------------------------------------------------------------------


def test_posts_need_the_sessions_csrf_token(served):
    with served.signed_in() as client:
        csrf = csrf_of(client.get("/conversations").text)
        for data in ({"key": "k"}, {"key": "k", "csrf": ""}, {"key": "k", "csrf": csrf[:-2] + "xx"}):
            response = client.post("/gaps/handle", data=data)
            assert response.status_code == 403, (data, response.status_code)
            assert "CSRF" in response.text
        with served.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM gap_marks")).scalar_one() == 0
        for data in ({}, {"csrf": "not-the-csrf-token"}):
            assert client.post("/logout", data=data).status_code == 403
            assert client.get("/conversations").status_code == 200  # still signed in
        # another session's CSRF token is no good either
        with served.signed_in() as other:
            theirs = csrf_of(other.get("/conversations").text)
        assert client.post("/logout", data={"csrf": theirs}).status_code == 403
        assert client.get("/conversations").status_code == 200
        # the control: with its own token, sign-out works and the session is gone (its cookie, replayed, too)
        session_id = client.cookies.get(COOKIE)
        response = client.post("/logout", data={"csrf": csrf})
        assert response.status_code == 303 and response.headers["location"] == "/login"
        with served.client(cookies={COOKIE: session_id}) as replay:
            assert replay.get("/conversations").status_code == 303


def test_post_from_another_origin_is_refused(served):
    with served.signed_in() as client:
        csrf = csrf_of(client.get("/conversations").text)
        for origin in ("https://evil.example", "http://evil.example", "null", served.url.replace("127.0.0.1", "localhost")):
            response = client.post("/logout", data={"csrf": csrf}, headers={"Origin": origin})
            assert response.status_code == 403, (origin, response.status_code)
            assert client.get("/conversations").status_code == 200
        response = client.post("/logout", data={"csrf": csrf}, headers={"Origin": served.url})
        assert response.status_code == 303  # the control: its own origin is fine


def test_host_header_must_be_loopback(served):
    with served.signed_in() as client:
        for host in ("evil.example", "evil.example:80", f"evil.example:{httpx.URL(served.url).port}"):
            for path in ("/login", "/conversations", f"/exchanges/{served.ids['answered']}", "/export.jsonl"):
                response = client.get(path, headers={"Host": host})
                assert response.status_code == 400, (host, path, response.status_code)
                assert "瘦脸针" not in response.text
        assert client.get("/conversations", headers={"Host": httpx.URL(served.url).netloc.decode()}).status_code == 200
        assert client.get("/conversations", headers={"Host": f"localhost:{httpx.URL(served.url).port}"}).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1.evil.example", "127.evil.example", "localhost.evil.example"])
def test_host_names_that_only_look_loopback_are_refused(host):
    """A rebinding attacker can name a host of their own 127.0.0.1.evil.example."""
    from console.auth import host_name, is_loopback

    assert not is_loopback(host_name(f"{host}:8765"))


# --- exports -------------------------------------------------------------------------------


def test_csv_export_has_a_bom_and_is_formula_safe(served):
    with served.signed_in() as client:
        response = client.get("/export.csv")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert response.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        by_id = {row["id"]: row for row in rows}
        assert set(by_id) == set(served.ids.values())
        assert by_id[served.ids["formula"]]["question"] == "'" + FORMULA
        assert by_id[served.ids["answered"]]["question"] == ROWS["answered"][0]
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@")), value


@pytest.mark.parametrize("query, wanted", [
    ({}, lambda name, row: True),
    ({"outcome": "emergency"}, lambda name, row: row[2]),
    ({"outcome": "not_covered"}, lambda name, row: row[1] and not row[2] and name not in SMALL_TALK),
    ({"outcome": "answered", "lang": "en"}, lambda name, row: not row[1] and row[0].isascii()),
    ({"q": "瘦脸针"}, lambda name, row: "瘦脸针" in row[0]),
])  # fmt: skip
def test_jsonl_export_follows_the_filter(served, query, wanted):
    with served.signed_in() as client:
        response = client.get("/export.jsonl", params=query)
        assert response.status_code == 200
        lines = [line for line in response.text.split("\n") if line]
        items = [json.loads(line) for line in lines]
    expected = {served.ids[name] for name, row in ROWS.items() if wanted(name, row)}
    assert expected, "the filter must select something"
    assert {item["id"] for item in items} == expected
    assert len(items) == len(expected)
    for item in items:
        assert ROWS[next(n for n, i in served.ids.items() if i == item["id"])][0] == item["question"]


# --- the command -----------------------------------------------------------------------------


def _never_listen(monkeypatch) -> None:
    """Should the check under test fail, the command must not go on to serve for ever."""
    from console import server

    def refuse(*args, **kwargs):
        raise AssertionError("the console went on to listen")

    monkeypatch.setattr(server, "_bind", refuse)


def test_console_refuses_a_network_address_without_allow_remote(monkeypatch):
    _never_listen(monkeypatch)
    result = CliRunner().invoke(main, ["console", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert "--allow-remote" in result.output and "0.0.0.0" in result.output
    assert "Traceback" not in result.output


def test_console_refuses_a_short_token(monkeypatch):
    _never_listen(monkeypatch)
    monkeypatch.setenv("ARTICLEBOT_CONSOLE_TOKEN", "short")
    result = CliRunner().invoke(main, ["console", "--port", "0"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "ARTICLEBOT_CONSOLE_TOKEN" in lines[0] and "short" in lines[0]
    assert "Traceback" not in result.output


def _read_lines(stream, lines: list[str], done: threading.Event) -> None:
    for line in stream:
        lines.append(line)
    done.set()


def test_articlebot_console_command_serves_and_signs_in(env_setup):
    # run from elsewhere (no .env of the repository), the project importable as installed or from here
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": python_path}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "console", "--port", "0"], cwd=env_setup, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines: list[str] = []
    done = threading.Event()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines, done), daemon=True).start()
    try:
        url = token = None
        deadline = time.monotonic() + 30
        while (url is None or token is None) and time.monotonic() < deadline and not done.is_set():
            text = "".join(lines)
            found_url = re.search(r"(http://127\.0\.0\.1:\d+)/", text)
            found_token = re.search(r"Sign in with this token[^:]*:\s*(\S+)", text)
            url = found_url and found_url.group(1)
            token = found_token and found_token.group(1)
            time.sleep(0.05)
        assert url and token, f"no URL and token within 30 s: {''.join(lines)!r} {proc.poll()}"
        assert len(token) >= 12
        with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
            assert client.get("/conversations").status_code == 303
            assert client.post("/login", data={"token": "wrong" + token}).status_code == 401
            response = client.post("/login", data={"token": token, "next": "/conversations"})
            assert response.status_code == 303
            page = client.get("/conversations")
            assert page.status_code == 200 and "Conversations" in page.text
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert "Traceback" not in stderr, stderr


@pytest.mark.parametrize("url, shown", [
    ("https://example.org/a", "https://example.org/a"), ("http://x.cn/1.html", "http://x.cn/1.html"),
    ("javascript:alert(1)", None), (" JavaScript:alert(1)", None), ("data:text/html,<b>x</b>", None), ("", None), (None, None),
])  # fmt: skip
def test_an_article_source_links_only_to_the_web(url, shown):
    from console.app import _web_link

    assert _web_link(url) == shown


@contextlib.contextmanager
def console_signed_in(log_url: str, monkeypatch) -> Iterator[httpx.Client]:
    """The console on 127.0.0.1 over a seeded log, configured from the environment as set so far
    (ARTICLEBOT_DATA, ARTICLEBOT_REDFLAGS, ...), and a client signed in to it."""
    from bot.config import Config
    from console.server import open_engine, running

    monkeypatch.setenv("ARTICLEBOT_LOG_URL", log_url)
    seed(log_url)
    config = Config.from_env()
    engine = open_engine(config)
    try:
        with running(config, engine, TOKEN) as url, httpx.Client(base_url=url, timeout=60) as client:
            assert client.post("/login", data={"token": TOKEN}).status_code == 303
            yield client
    finally:
        engine.dispose()


def test_gaps_page_says_why_when_the_red_flags_cannot_load(log_url, monkeypatch, tmp_path):
    """A broken ARTICLEBOT_REDFLAGS (as an operator sets it) is one sentence on the page, not a crash."""
    broken = tmp_path / "redflags.toml"
    broken.write_text("[emergency\nthis is not toml", "utf-8")
    monkeypatch.setenv("ARTICLEBOT_REDFLAGS", str(broken))
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    with console_signed_in(log_url, monkeypatch) as client:
        page = client.get("/gaps")
        assert page.status_code == 503
        assert "Cannot group the questions by meaning" in page.text and "redflags.toml" in page.text
        assert client.get("/conversations").status_code == 200  # the rest of the console works


def test_an_article_that_is_a_copy_says_so(log_url, monkeypatch, tmp_path):
    """An article whose text is all in another one has no passage of its own: the Articles page
    and its own page say it is a copy (answers quote the other), not an unexplained blank."""
    from corpus.article import Block, Document
    from retrieval.build import build_from_documents
    from tests.conftest import FakeEncoder

    text = ["打瘦脸针后面瘫多久能恢复？多数情况下是暂时性的，大多数患者在数天到数周内会逐渐恢复正常。",
            "有研究指出，大约七成到八成半的人在三个月内完全恢复，少数患者可能需要更长时间。"]  # fmt: skip
    docs = [Document(path, [Block(line) for line in lines], f"h-{path}", title=path)
            for path, lines in (("palsy.txt", text), ("palsy 副本.txt", text), ("other.txt", ["长期注射肉毒素可能导致肌肉萎缩和抗体产生，降低后续治疗效果。"] * 2))]  # fmt: skip
    build_from_documents(docs, tmp_path / "data", [FakeEncoder()])
    monkeypatch.setenv("ARTICLEBOT_DATA", str(tmp_path / "data"))
    with console_signed_in(log_url, monkeypatch) as client:
        listed = client.get("/articles").text
        never = listed[listed.index('id="never-quoted"'):]
        copy_item = next(item for item in never.split("<li>") if "palsy 副本.txt" in item)
        assert "a copy of another article" in copy_item
        assert all("a copy of another article" not in item for item in never.split("<li>") if "palsy.txt" in item or "other.txt" in item)
        assert 'id="no-passages"' in client.get("/articles/view", params={"path": "palsy 副本.txt"}).text
        assert 'id="no-passages"' not in client.get("/articles/view", params={"path": "palsy.txt"}).text
