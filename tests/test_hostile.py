"""Hostile input and faults on the bot's own entries: a seeded fuzz of messages through
the running Telegram bot, invalid bytes on the command line, article titles and
paragraphs too long for a message, replies Telegram would not take, a token revoked
while the bot runs, and a webhook without a secret."""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.telegram.fake_botapi import (
    FakeBotAPI,
    ServerThread,
    check_html,
    post_to_webhook,
)
from presentation.telegram_html import answer_paragraphs, units, with_disclaimer_html
from presentation.texts import DISCLAIMER, ERROR, TRADITIONAL, say
from retrieval.records import Answer, Hit, Passage
from tests.test_telegram import all_text, start_bot, stop_bot
from tests.test_telegram_cli import wait_for

FUZZ_SEED = 17
FUZZ_MESSAGES = 300

# Pieces a hostile or careless user sends, alone or mixed with a real question.
_ODD = [
    "\ud800", "\udcff", "\udfff\ud800", "\ufffe", "\uffff", "\ufeff", "\u202e", "\u200b\u200d", "\u2028", "\x00", "\x07",
    "\x1b[31m", "\x7f", "\r\n", "\t", "e\u0301\u0301\u0301\u0301\u0301", "\U0001f600" * 3, "\U0001f469\u200d\U0001f4bb",
    "\U000e0041", "\ue000", "\u3000", "Ｆｕｌｌ", "𝐛𝐨𝐥𝐝", "Ω", "ﬁ", "\u0665\u0660", "٣", "\u0000\u0000",
]  # fmt: skip
_MARKUP = [
    "<b>", "</blockquote>", "<a href='javascript:alert(1)'>x</a>", "&amp;", "&#0;", "<script>alert(1)</script>",
    "<i><b>", "<tg-spoiler>", "]]>", "\"'><img src=x onerror=alert(1)>", "<", ">", "&", "<pre>", "`code`", "*bold*",
    "[link](http://x.org)", "@articlebot_test_bot", "/start", "#tag",
]  # fmt: skip
_FORMULA = ['=HYPERLINK("http://evil.example","点我")', "=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1"]
_WORDS = ["瘦脸针", "打完瘦脸针多久可以化妆", "面瘫", "botox side effects", "肉毒素", "副作用", "多久恢复", "吗", "?", "？", "。"]


def fuzz_messages(seed: int = FUZZ_SEED, count: int = FUZZ_MESSAGES) -> list[str]:
    """`count` messages, the same every run: odd Unicode, controls, markup, formulas, huge and empty ones."""
    rng = random.Random(seed)
    pools = [_ODD, _MARKUP, _FORMULA, _WORDS]
    messages = ["", " ", "\u3000\u3000", "\n\n\n", "\ud800" * 50, "瘦" * 5000, "\U0001f600" * 3000, "<" * 4096, "&" * 4096]
    while len(messages) < count:
        parts = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.1:
            parts.append(rng.choice(_WORDS) * rng.randint(100, 800))  # huge
        messages.append("".join(parts))
    return messages[:count]


def _disclaimed(text: str) -> bool:
    return any(text.endswith(f"<i>{say(DISCLAIMER, lang)}</i>") for lang in ("zh", "en", TRADITIONAL))


async def test_fuzzed_messages_never_break_a_reply_or_another_users_answer(pipeline, tmp_path, capfd):
    running = await start_bot(pipeline, tmp_path)
    api = running.api
    try:
        messages = fuzz_messages()
        sent = []
        for n, text in enumerate(messages):
            sent.append(await api.message(text, user_id=20_000 + n))
            if n == len(messages) // 2:  # a well-formed question in the middle of it all
                good = await api.message("打完瘦脸针多久可以化妆？", user_id=19_999)
        everyone = [*sent, good]
        answered = await api.wait_until(lambda: all(api.replies_to(m) for m in everyone), timeout=600)
        unanswered = [m.get("text", "")[:40] for m in everyone if not api.replies_to(m)]
        assert answered, f"{len(unanswered)} messages got no reply, e.g. {unanswered[:3]!r}"
        refused_by_telegram = [c for c in api.of("sendMessage") if c["status"] != 200]
        assert refused_by_telegram == []  # every reply valid: HTML, UTF-8, length
        for call in api.of("sendMessage"):
            text = call["params"]["text"]
            assert check_html(text)[0] == [] and units(text) <= 4096 and _disclaimed(text)
        errors = [m for m in everyone for r in api.replies_to(m) if ERROR["zh"] in r["params"]["text"] or ERROR["en"] in r["params"]["text"]]
        assert errors == []  # no exception reached the error handler
        assert "化妆" in all_text(api.replies_to(good)) and "📄" in all_text(api.replies_to(good))
        assert await api.wait_until(lambda: _rows(running.log_path) >= len(messages) // 2, timeout=30)
        print(f"\nfuzz: {len(messages)} messages (seed {FUZZ_SEED}), {len(api.of('sendMessage'))} messages sent, "
              f"0 failures, {_rows(running.log_path)} exchanges logged")  # fmt: skip
    finally:
        await stop_bot(running)  # also checks that every message sent ends with the disclaimer
    assert "Traceback" not in capfd.readouterr().err


def _rows(log_path) -> int:
    with sqlite3.connect(log_path) as db:
        return db.execute("SELECT count(*) FROM exchanges").fetchone()[0]


def test_invalid_bytes_on_the_command_line_get_an_answer_and_a_log_row(bundled_data, tmp_path):
    env = {**os.environ, "ARTICLEBOT_DATA": str(bundled_data), "ARTICLEBOT_LOG_URL": f"sqlite:///{tmp_path / 'logs.db'}",
           "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}  # fmt: skip
    ask = subprocess.run([sys.executable, "-m", "bot", "ask", b"\xff\xfe\xe7\x98\xa6\xe8\x84\xb8\xe9\x92\x88\x01"],
                         env=env, capture_output=True, timeout=300)  # fmt: skip
    assert ask.returncode == 0, ask.stderr.decode(errors="replace")[-500:]
    assert ask.stdout.decode().rstrip().endswith(DISCLAIMER["zh"]) and b"Traceback" not in ask.stderr
    chat = subprocess.run([sys.executable, "-m", "bot", "chat"], input=b"\xff\xc0\xe7\x98\xa6\xe8\x84\xb8\xe9\x92\x88\n\x00\x01\n",
                          env=env, capture_output=True, timeout=300)  # fmt: skip
    assert chat.returncode == 0 and b"Traceback" not in chat.stderr, chat.stderr.decode(errors="replace")[-500:]
    assert chat.stdout.decode().count(DISCLAIMER["zh"]) >= 3  # the greeting and both answers
    with sqlite3.connect(tmp_path / "logs.db") as db:
        questions = [row[0] for row in db.execute("SELECT question FROM exchanges ORDER BY ts, rowid")]
    assert len(questions) == 3 and questions[0] == "\ufffd\ufffd瘦脸针"


def _passage(title: str, excerpt: str, n: int = 1) -> Passage:
    return Passage(Hit(f"c{n}", f"a{n}.txt", title, f"https://x.org/{n}", None, excerpt, 0.9), excerpt)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_huge_title_or_paragraph_still_fits_every_message_with_the_disclaimer_last(lang):
    passages = [_passage("很长的标题" * 2000, "一段没有断句的正文" * 1500, 1), _passage("T", "\U0001f600" * 4000, 2),
                _passage("<&>" * 3000, "&<>" * 3000, 3)]  # fmt: skip
    answer = Answer("q", lang, refused=False, hits=[p.hit for p in passages], passages=passages)
    parts = with_disclaimer_html(answer_paragraphs(answer), lang)
    for part in parts:
        errors, visible = check_html(part)
        assert errors == [] and units(part) <= 4096
        assert part.endswith(f"<i>{DISCLAIMER[lang]}</i>")  # every message, not only the last
    text = "".join(parts)
    assert "很长的标题" * 20 in text and "很长的标题" * 30 not in text  # the title shortened...
    assert "一段没有断句的正文" * 100 in text and "一段没有断句的正文" * 200 not in text  # ...and the quote,
    assert text.count("…</blockquote>") >= 2  # cuts marked (the third quote, escaped past a message, went as plain text)


def test_a_long_quote_is_cut_around_the_sentence_that_answers():
    from presentation.reply import EXCERPT_LIMIT, excerpt_of

    focus = "注射后至少24小时内避免化妆。"
    passage = _passage("T", "前文。" * 1000 + focus + "后文。" * 1000)
    passage.focus = focus
    shown = excerpt_of(passage)
    assert focus in shown and shown.startswith("…") and shown.endswith("…") and len(shown) <= EXCERPT_LIMIT + 2


async def test_a_reply_telegram_rate_limits_past_the_retries_is_still_logged(pipeline, tmp_path):
    running = await start_bot(pipeline, tmp_path)
    try:
        running.api.fail["sendMessage"] = [429] * 4  # the first try and all three retries
        message = await running.api.message("长期打肉毒素有什么副作用？", user_id=61)
        assert await running.api.wait_until(lambda: _rows(running.log_path) == 1, timeout=60)
        with sqlite3.connect(running.log_path) as db:
            question, failure = db.execute("SELECT question, delivery_error FROM exchanges").fetchone()
        assert question == "长期打肉毒素有什么副作用？" and failure.startswith("RetryAfter")
        assert await running.api.wait_until(lambda: running.api.replies_to(message) or running.api.texts_to(61), timeout=30)
    finally:
        await stop_bot(running)


def test_a_token_revoked_while_running_stops_the_bot_with_one_sentence(bundled_data):
    api = FakeBotAPI()
    with ServerThread(api):
        env = {**os.environ, "ARTICLEBOT_DATA": str(bundled_data), "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.url}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            assert wait_for(lambda: api.of("getUpdates"), 120), "the bot never polled"
            token = api.token
            api.token = "123456:a-new-token"  # revoked in @BotFather: the old one now gets 401
            out, _ = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 1, out[-2000:]
    assert out.strip().splitlines()[-1].startswith("Error: Telegram stopped accepting TELEGRAM_BOT_TOKEN")
    assert token.split(":")[1] not in out


def test_a_webhook_without_a_secret_does_not_start(bundled_data, monkeypatch):
    with ServerThread(FakeBotAPI()) as api:
        monkeypatch.setenv("ARTICLEBOT_DATA", str(bundled_data))
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
        monkeypatch.setenv("TELEGRAM_API_URL", api.url)
        result = CliRunner().invoke(main, ["run", "--webhook-url", "https://bot.example.org/hook", "--port", "1"])
        assert result.exit_code == 1
        assert result.output.strip().splitlines()[-1].startswith("Error: Webhook mode needs a secret token")
        assert api.of("setWebhook") == []  # nothing was exposed
        monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "bad secret!")
        result = CliRunner().invoke(main, ["run", "--webhook-url", "https://bot.example.org/hook", "--port", "1"])
        assert result.exit_code == 1 and "1-256 characters" in result.output


def test_the_webhook_started_by_run_refuses_forged_updates(bundled_data, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = FakeBotAPI()
    with ServerThread(api):
        env = {**os.environ, "ARTICLEBOT_DATA": str(bundled_data), "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.url,
               "TELEGRAM_WEBHOOK_SECRET": "s3cret-token", "ARTICLEBOT_LOG_URL": f"sqlite:///{tmp_path / 'logs.db'}"}  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook-url", "https://bot.example.org/hook",
                                 "--url-path", "hook", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            assert wait_for(lambda: api.of("setWebhook"), 120), "the webhook was never set"
            assert api.of("setWebhook")[0]["params"]["secret_token"] == "s3cret-token"

            def post(secret: str | None) -> int:
                update = {"update_id": int(time.time() * 1000) % 10**9, "message": {
                    "message_id": 1, "date": int(time.time()), "chat": {"id": 52, "type": "private"},
                    "from": {"id": 52, "is_bot": False, "first_name": "u"}, "text": "/reindex"}}  # fmt: skip
                return post_to_webhook(f"http://127.0.0.1:{port}/hook", update, secret)

            assert wait_for(lambda: post("s3cret-token") == 200, 60)  # the server is up: a genuine update goes in
            assert post(None) == 403 and post("guess") == 403  # forged ones do not
            assert wait_for(lambda: api.texts_to(52), 30)
            time.sleep(1)
            assert len(api.texts_to(52)) == 1  # only the genuine update was handled
        finally:
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
