"""End to end on Telegram: the real python-telegram-bot Application, the real index and
model, speaking HTTP to a local Bot API server (bot/telegram/fake_botapi.py) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from bot.service import Service
from bot.telegram import sending
from bot.telegram.app import ALLOWED_UPDATES, TelegramSettings, build_application
from bot.telegram.fake_botapi import FakeBotAPI, check_html
from convlog import ConversationLog
from presentation.texts import DISCLAIMER, INTRO, NOT_COVERED, SOCIAL, TRADITIONAL, say

ZH, EN = DISCLAIMER["zh"], DISCLAIMER["en"]
HANT = say(DISCLAIMER, TRADITIONAL)  # to someone who writes in traditional characters


class Running:
    """A started Application and its fake API server."""

    def __init__(self, api: FakeBotAPI, app, log_path):
        self.api = api
        self.app = app
        self.log_path = log_path

    async def ask(self, text: str, timeout: float = 30, **kw) -> tuple[dict, list[dict]]:
        """Send a message and wait for the bot's reply to it (all parts)."""
        message = await self.api.message(text, **kw)
        assert await self.api.wait_until(lambda: self._answered(message), timeout), f"no reply to {text!r}"
        return message, self.api.replies_to(message)

    def _answered(self, message) -> bool:
        replies = self.api.replies_to(message)
        return bool(replies) and replies[-1]["params"].get("reply_markup") is not None or any(
            r["params"]["text"].endswith(f"<i>{d}</i>") for r in replies for d in (ZH, EN, HANT)
        )


async def start_bot(pipeline, tmp_path, *, per_minute: int = 1000, busy_seconds: float = 5.0) -> Running:
    api = FakeBotAPI()
    url = await api.start()
    log_path = tmp_path / "logs.db"
    log = ConversationLog(f"sqlite:///{log_path}", salt="test-salt", busy_seconds=busy_seconds)
    app = build_application(TelegramSettings(api.token, url, per_minute), Service(pipeline, log))
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    return Running(api, app, log_path)


async def stop_bot(running: Running) -> None:
    await running.app.updater.stop()
    await running.app.stop()
    await running.app.shutdown()
    await running.api.stop()
    assert_every_message_ends_with_the_disclaimer(running.api)


def assert_every_message_ends_with_the_disclaimer(api: FakeBotAPI) -> None:
    """Whatever path sent it (answer, more, refusal, emergency, error, notice, /start...)."""
    for call in api.of("sendMessage"):
        text = call["params"]["text"]
        assert any(text.endswith(f"<i>{d}</i>") for d in (ZH, EN, HANT)), text[-80:]


@pytest.fixture
async def bot(pipeline, tmp_path):
    running = await start_bot(pipeline, tmp_path)
    yield running
    await stop_bot(running)


def last_text(replies: list[dict]) -> str:
    return replies[-1]["params"]["text"]


def all_text(replies: list[dict]) -> str:
    return "\n".join(r["params"]["text"] for r in replies)


def assert_valid_and_disclaimed(replies: list[dict], lang: str = "zh") -> None:
    for reply in replies:
        assert reply["params"]["parse_mode"] == "HTML"
        errors, _ = check_html(reply["params"]["text"])
        assert errors == []
    assert last_text(replies).endswith(f"<i>{say(DISCLAIMER, lang)}</i>")


async def test_start_registers_commands_and_greets(bot):
    commands = bot.api.of("setMyCommands")
    assert len(commands) == 2
    names = [c["command"] for c in commands[0]["params"]["commands"]]
    assert names == ["start", "help", "about", "ask"]
    assert {c["params"].get("language_code") for c in commands} == {None, "en"}

    await bot.api.message("/start", user_id=7)
    assert await bot.api.wait_until(lambda: bot.api.texts_to(7))
    text = bot.api.texts_to(7)[0]
    assert "打瘦脸针面瘫会恢复吗?" in text and "不是医生" in text
    assert text.endswith(f"<i>{ZH}</i>")

    await bot.api.message("/about", user_id=8, language="en")
    assert await bot.api.wait_until(lambda: bot.api.texts_to(8))
    about = bot.api.texts_to(8)[0]
    assert "5 articles" in about and "passages" in about and about.endswith(f"<i>{EN}</i>")

    await bot.api.message("/help", user_id=9)
    assert await bot.api.wait_until(lambda: bot.api.texts_to(9))
    assert bot.api.texts_to(9)[0].endswith(f"<i>{ZH}</i>")


async def test_chinese_question_answered_from_the_right_article(bot):
    message, replies = await bot.ask("打瘦脸针后面瘫多久能恢复？", user_id=11)
    text = all_text(replies)
    assert '<a href="https://www.jiaozhiliu.org.cn/show-181930.html">打瘦脸针面瘫会恢复吗?</a>' in text
    assert "3个月内完全恢复" in text
    assert_valid_and_disclaimed(replies, "zh")
    assert not bot.api.of("sendChatAction", chat_id=11)  # a quick answer needs no "typing…" (it costs an API call)


async def test_a_slow_answer_shows_typing_first(bot, monkeypatch):
    pipeline = bot.app.bot_data["services"].pipeline
    quick = pipeline.answer

    def slow(question, **kw):
        time.sleep(sending.TYPING_AFTER + 0.5)
        return quick(question, **kw)

    monkeypatch.setattr(sending, "TYPING_AFTER", 0.3)
    monkeypatch.setattr(pipeline, "answer", slow)
    _, replies = await bot.ask("打瘦脸针后面瘫多久能恢复？", user_id=10)
    typing = bot.api.of("sendChatAction", chat_id=10)
    assert typing and typing[0]["params"]["action"] == "typing" and typing[0]["t"] <= replies[0]["t"]
    assert_valid_and_disclaimed(replies, "zh")


async def test_english_question_answered_in_english(bot):
    _, replies = await bot.ask("Can massage help facial nerve palsy?", user_id=12, language="en")
    text = all_text(replies)
    assert "Facial nerve palsy massage treatment" in text
    assert "Here is what the articles say" in text
    assert_valid_and_disclaimed(replies, "en")


async def test_off_topic_question_is_refused(bot):
    _, replies = await bot.ask("红烧肉怎么做才好吃？", user_id=13)
    assert NOT_COVERED["zh"] in all_text(replies)
    assert "📄" not in all_text(replies)
    assert_valid_and_disclaimed(replies, "zh")


async def test_feedback_buttons_and_more(bot):
    _, replies = await bot.ask("打瘦脸针后面瘫多久能恢复？", user_id=14)
    markup = replies[-1]["params"]["reply_markup"]
    buttons = [b for row in markup["inline_keyboard"] for b in row]
    data = [b["callback_data"] for b in buttons]
    assert [b["text"] for b in buttons[:2]] == ["👍", "👎"]
    fb_down = next(d for d in data if d.endswith(":down"))
    more = next(d for d in data if d.startswith("more:"))
    sent = bot.api.sent[max(bot.api.sent)]

    await bot.api.press(sent, fb_down, user_id=14)
    assert await bot.api.wait_until(lambda: bot.api.of("editMessageReplyMarkup"))
    toast = bot.api.of("answerCallbackQuery")[0]["params"]
    assert toast.get("text") == "谢谢您的反馈！"
    edited = bot.api.of("editMessageReplyMarkup")[0]["params"]["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in edited[0]] == ["👍", "👎 ✓"]
    assert edited[1][0]["callback_data"] == more  # "more" is still there
    # the exchange is written in the background: a press that comes first is kept and written with it
    def feedback_rows():
        return sqlite3.connect(bot.log_path).execute("SELECT feedback, question FROM exchanges WHERE feedback IS NOT NULL").fetchall()

    assert await bot.api.wait_until(feedback_rows, timeout=10)
    assert feedback_rows() == [("down", "打瘦脸针后面瘫多久能恢复？")]

    before = len(bot.api.texts_to(14))
    await bot.api.press(sent, more, user_id=14)
    assert await bot.api.wait_until(lambda: len(bot.api.texts_to(14)) > before)
    page = bot.api.texts_to(14)[-1]
    assert "📄" in page
    assert page.endswith(f"<i>{ZH}</i>")
    first_page = all_text(replies)
    # the passages on the "more" page are new ones
    for quote in page.split("<blockquote>")[1:]:
        assert quote.split("</blockquote>")[0] not in first_page
    # further pages while relevant passages remain (each with its own "more" button), then it says so
    pages = [page]
    for _ in range(5):
        last = bot.api.of("sendMessage", chat_id=14)[-1]["params"]
        if not last.get("reply_markup"):
            break
        assert last["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == more
        before = len(bot.api.texts_to(14))
        await bot.api.press(bot.api.sent[max(bot.api.sent)], more, user_id=14)
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(14)) > before)
        pages.append(bot.api.texts_to(14)[-1])
        assert pages[-1].endswith(f"<i>{ZH}</i>") and pages[-1] != pages[-2]
    assert not bot.api.of("sendMessage", chat_id=14)[-1]["params"].get("reply_markup")  # it stopped offering
    before = len(bot.api.texts_to(14))
    await bot.api.press(sent, more, user_id=14)  # the first answer's old button, pressed again
    assert await bot.api.wait_until(lambda: len(bot.api.texts_to(14)) > before)
    assert "没有更多相关的段落了" in bot.api.texts_to(14)[-1]
    _, replies = await bot.ask("还有呢", user_id=14)  # typed: goes on after the pages the button showed, so none
    assert "没有更多相关的段落了" in all_text(replies) and "📄" not in all_text(replies)
    assert_valid_and_disclaimed(replies)


async def test_traditional_characters_get_the_bots_own_sentences_in_traditional_characters(bot):
    """瘦臉針 written in Taiwan or Hong Kong: the intro, the disclaimer, "more", the refusal and
    the emergency notice come in traditional characters; quotes keep the article's characters."""
    assert HANT != ZH and "醫生" in HANT
    _, replies = await bot.ask("打瘦臉針後面癱多久能恢復？", user_id=70)
    text = all_text(replies)
    assert say(INTRO, TRADITIONAL) in text and INTRO["zh"] not in text
    assert "大多数患者在数天到数周内会逐渐恢复正常" in text  # quoted as the article writes it
    assert_valid_and_disclaimed(replies, TRADITIONAL)
    more = next(b["callback_data"] for row in replies[-1]["params"]["reply_markup"]["inline_keyboard"] for b in row
                if b["callback_data"].startswith("more:"))  # fmt: skip
    before = len(bot.api.texts_to(70))
    await bot.api.press(bot.api.sent[max(bot.api.sent)], more, user_id=70)
    assert await bot.api.wait_until(lambda: len(bot.api.texts_to(70)) > before)
    assert bot.api.texts_to(70)[-1].endswith(f"<i>{HANT}</i>")

    _, replies = await bot.ask("紅燒肉怎麼做才好吃？", user_id=71)
    assert say(NOT_COVERED, TRADITIONAL) in all_text(replies)
    assert_valid_and_disclaimed(replies, TRADITIONAL)
    _, replies = await bot.ask("打完瘦臉針喉嚨發緊，喘不上氣", user_id=72)
    notice = replies[0]["params"]["text"].split("</b>")[0]
    assert notice.startswith("<b>⚠️") and "120" in notice and "醫" in notice
    assert_valid_and_disclaimed(replies, TRADITIONAL)
    # the same in simplified characters: simplified replies, as before
    _, replies = await bot.ask("打瘦脸针后面瘫多久能恢复？", user_id=73)
    assert INTRO["zh"] in all_text(replies)
    assert_valid_and_disclaimed(replies, "zh")


async def test_html_special_characters_do_not_break_the_reply(bot):
    _, replies = await bot.ask("<b>瘦脸针</b> & 面瘫 <script>多久恢复</script>?", user_id=15)
    assert all(r["status"] == 200 for r in bot.api.calls if r["method"] == "sendMessage")
    assert_valid_and_disclaimed(replies, "zh")


async def test_groups_answer_only_when_addressed(bot):
    group = -100500
    ignored = await bot.api.message("瘦脸针会导致面瘫吗", user_id=16, chat_id=group, chat_type="supergroup")
    mention = "@articlebot_test_bot"
    text = f"{mention} 长期打肉毒素有什么副作用？"
    addressed, replies = await bot.ask(
        text, user_id=17, chat_id=group, chat_type="supergroup", entities=[{"type": "mention", "offset": 0, "length": len(mention)}]
    )
    assert "长期注射肉毒素会产生什么副作用" in all_text(replies)
    via_ask, ask_replies = await bot.ask("/ask 打完瘦脸针一边脸大一边脸小怎么办", user_id=18, chat_id=group, chat_type="supergroup")
    assert "一边脸大一边脸小" in all_text(ask_replies)
    bot_message = bot.api.sent[max(bot.api.sent)]
    _, reply_replies = await bot.ask("那多久能好？", user_id=19, chat_id=group, chat_type="supergroup", reply_to=bot_message)
    assert reply_replies
    assert bot.api.replies_to(ignored) == []
    group_sends = [c for c in bot.api.of("sendMessage") if int(c["params"]["chat_id"]) == group]
    assert len(group_sends) == len(replies) + len(ask_replies) + len(reply_replies)


async def test_sticker_and_photo_get_a_polite_text(bot):
    sticker = {"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}}
    message = await bot.api.message(None, user_id=20, extra=sticker)
    assert await bot.api.wait_until(lambda: bot.api.replies_to(message))
    replies = bot.api.replies_to(message)
    assert "只能阅读文字" in all_text(replies)
    assert_valid_and_disclaimed(replies, "zh")

    photo = {"photo": [{"file_id": "p1", "file_unique_id": "pu1", "width": 90, "height": 90}]}
    message = await bot.api.message(None, user_id=21, language="en", extra=photo)
    assert await bot.api.wait_until(lambda: bot.api.replies_to(message))
    assert "only read text" in all_text(bot.api.replies_to(message))


async def test_empty_odd_and_long_messages(bot):
    _, replies = await bot.ask("   \u200b  ", user_id=22)
    assert "请直接输入" in all_text(replies)
    assert_valid_and_disclaimed(replies)

    assert all("reply_markup" not in r["params"] for r in replies)  # nothing to rate

    _, replies = await bot.ask("好的，谢谢医生！", user_id=25)  # a thank-you is answered in kind, not refused
    assert SOCIAL["thanks"]["zh"] in all_text(replies) and NOT_COVERED["zh"] not in all_text(replies)
    assert all("reply_markup" not in r["params"] for r in replies)
    assert_valid_and_disclaimed(replies)

    _, replies = await bot.ask("面瘫\x07\x1b[31m 恢复 \u202e要多久", user_id=23)
    assert_valid_and_disclaimed(replies)

    _, replies = await bot.ask("".join(f"第{n}天我真的很担心。" for n in range(1, 201)) + "打瘦脸针后面瘫多久能恢复？", user_id=24)
    text = all_text(replies)
    assert "不超过 1000 个字" in text
    assert "📄" in text
    assert_valid_and_disclaimed(replies)


async def test_twenty_simultaneous_users_are_all_answered(bot):
    questions = ["打瘦脸针后面瘫多久能恢复？", "长期打肉毒素有什么副作用？", "瘦脸针会导致脸颊凹陷吗", "打完瘦脸针一边脸大一边脸小怎么办"]
    started = time.monotonic()
    messages = await asyncio.gather(*(bot.api.message(questions[i % 4], user_id=3000 + i) for i in range(20)))
    assert await bot.api.wait_until(lambda: all(bot.api.replies_to(m) for m in messages), timeout=60)
    print(f"\n20 simultaneous users: all answered in {time.monotonic() - started:.2f} s")
    for m in messages:
        assert_valid_and_disclaimed(bot.api.replies_to(m))


def logged(log_path) -> int:
    return sqlite3.connect(log_path).execute("SELECT count(*) FROM exchanges").fetchone()[0]


async def test_fifty_users_at_once_are_all_answered_and_logged(bot):
    messages = await asyncio.gather(*(bot.api.message("瘦脸针会导致面瘫吗", user_id=4000 + i) for i in range(50)))
    assert await bot.api.wait_until(lambda: all(bot.api.replies_to(m) for m in messages), timeout=90)
    assert await bot.api.wait_until(lambda: logged(bot.log_path) == 50, timeout=30)
    users = sqlite3.connect(bot.log_path).execute("SELECT count(DISTINCT user_id) FROM exchanges").fetchone()[0]
    assert users == 50


async def test_a_locked_log_does_not_break_answering(pipeline, tmp_path, capfd):
    running = await start_bot(pipeline, tmp_path, busy_seconds=0.5)
    locker = sqlite3.connect(running.log_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        message, replies = await running.ask("长期打肉毒素有什么副作用？", user_id=31)
        assert "肌肉萎缩" in all_text(replies)
        assert_valid_and_disclaimed(replies)
        assert await running.api.wait_until(lambda: "could not write exchange" in capfd.readouterr().err, timeout=10)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        await stop_bot(running)


async def test_a_429_is_retried_and_no_reply_is_lost(bot):
    bot.api.fail["sendMessage"] = [429]
    started = time.monotonic()
    message, replies = await bot.ask("长期打肉毒素有什么副作用？", user_id=25)
    attempts = [c for c in bot.api.calls if c["method"] == "sendMessage" and int(c["params"]["chat_id"]) == 25]
    assert [c["status"] for c in attempts][:2] == [429, 200]
    assert_valid_and_disclaimed(replies)
    print(f"\n429: retried after {attempts[1]['t'] - attempts[0]['t']:.2f} s; reply delivered {time.monotonic() - started:.2f} s after the question")


async def test_a_transient_server_error_is_retried(bot):
    bot.api.fail["sendMessage"] = [502]
    _, replies = await bot.ask("长期打肉毒素有什么副作用？", user_id=26)
    attempts = [c["status"] for c in bot.api.calls if c["method"] == "sendMessage" and int(c["params"]["chat_id"]) == 26]
    assert attempts[:2] == [502, 200]
    assert_valid_and_disclaimed(replies)


async def test_rate_limit_notice(pipeline, tmp_path):
    running = await start_bot(pipeline, tmp_path, per_minute=2)
    try:
        for _ in range(2):
            _, replies = await running.ask("瘦脸针会导致面瘫吗", user_id=27)
            assert "📄" in all_text(replies)
        _, replies = await running.ask("瘦脸针会导致面瘫吗", user_id=27)
        assert "请稍等" in all_text(replies)
        assert_valid_and_disclaimed(replies)
        # another user is not affected
        _, other = await running.ask("瘦脸针会导致面瘫吗", user_id=28)
        assert "📄" in all_text(other)
    finally:
        await stop_bot(running)


async def test_an_internal_error_gets_a_polite_reply(bot, monkeypatch):
    def broken(question, **kw):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(bot.app.bot_data["services"].pipeline, "answer", broken)
    await bot.api.message("面瘫怎么办", user_id=29)
    assert await bot.api.wait_until(lambda: bot.api.texts_to(29))
    text = bot.api.texts_to(29)[-1]
    assert "出了点问题" in text and text.endswith(f"<i>{ZH}</i>")


async def test_exchanges_are_logged(bot):
    await bot.ask("长期打肉毒素有什么副作用？", user_id=30)
    await bot.ask("红烧肉怎么做？", user_id=30)
    assert await bot.api.wait_until(lambda: logged(bot.log_path) == 2, timeout=10)  # written just after the reply
    db = sqlite3.connect(bot.log_path)
    rows = db.execute("SELECT id, channel, question, refused, user_id, chat_type, lang, latency_ms, model, index_version FROM exchanges ORDER BY ts, rowid").fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [("telegram", "长期打肉毒素有什么副作用？", 0), ("telegram", "红烧肉怎么做？", 1)]
    first = rows[0]
    assert first[4] and first[4] != "30"  # pseudonymous, not the raw Telegram id
    assert first[5] == "private" and first[6] == "zh" and first[7] > 0
    assert first[8] == "multilingual-e5-small" and first[9].startswith("index-")
    top = db.execute("SELECT article, shown FROM hits WHERE exchange_id = ? ORDER BY rank", (first[0],)).fetchall()
    assert top[0] == ("botox-long-term-side-effects.txt", 1)


async def test_webhook_mode(pipeline, tmp_path):
    """Updates posted to the bot's own webhook server (with the secret) are answered; others are refused."""
    import socket

    import aiohttp

    api = FakeBotAPI()
    url = await api.start()
    app = build_application(TelegramSettings(api.token, url, 1000), Service(pipeline, ConversationLog(f"sqlite:///{tmp_path / 'logs.db'}", salt="test-salt")))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await app.initialize()
    await app.start()
    await app.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="hook", webhook_url="https://bot.example.org/hook", secret_token="s3cret"
    )
    try:
        assert api.of("setWebhook")[0]["params"]["secret_token"] == "s3cret"
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": 51, "type": "private"},
                "from": {"id": 51, "is_bot": False, "first_name": "u", "language_code": "zh-hans"},
                "text": "长期打肉毒素有什么副作用？",
            },
        }
        async with aiohttp.ClientSession() as http:
            wrong = await http.post(f"http://127.0.0.1:{port}/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
            assert wrong.status == 403
            ok = await http.post(f"http://127.0.0.1:{port}/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
            assert ok.status == 200
        assert await api.wait_until(lambda: api.texts_to(51))
        assert "长期注射肉毒素会产生什么副作用" in api.texts_to(51)[0]
        assert len(api.texts_to(51)) == 1  # the update with the wrong secret was not handled
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await api.stop()


async def test_every_path_that_sends_a_message_carries_the_disclaimer(bot):
    """The rarer paths; the check itself runs for every test in stop_bot."""
    await bot.api.message("/ask", user_id=80)  # usage
    await bot.api.message("/nonsense", user_id=81)  # unknown command -> help
    await bot.api.message("/reindex", user_id=82)  # not an operator
    for user in (80, 81, 82):
        assert await bot.api.wait_until(lambda user=user: bot.api.texts_to(user))
    _, replies = await bot.ask("打瘦脸针后面瘫多久能恢复？", user_id=83)
    more = next(b["callback_data"] for row in replies[-1]["params"]["reply_markup"]["inline_keyboard"] for b in row if b["callback_data"].startswith("more:"))
    for n in range(1, 16):  # page until there is nothing more (bounded)
        await bot.api.press(bot.api.sent[max(bot.api.sent)], more, user_id=83)
        assert await bot.api.wait_until(lambda n=n: len(bot.api.texts_to(83)) > len(replies) + n - 1)
        if "没有更多相关的段落了" in bot.api.texts_to(83)[-1]:
            break
    assert "没有更多相关的段落了" in bot.api.texts_to(83)[-1]
    quotes = [q.split("</blockquote>")[0] for text in bot.api.texts_to(83) for q in text.split("<blockquote>")[1:]]
    assert len(quotes) == len(set(quotes)) > 2  # "more" never repeats a passage
    assert_every_message_ends_with_the_disclaimer(bot.api)


async def test_emergency_messages_get_the_instruction_first_in_both_languages(bot):
    _, replies = await bot.ask("打完瘦脸针喉咙发紧，喘不上气", user_id=90)
    first = replies[0]["params"]["text"]
    assert first.startswith("<b>⚠️") and "120" in first.split("</b>")[0]
    assert all("reply_markup" not in r["params"] for r in replies)  # no 👍/👎, no "more" under an emergency notice
    _, replies = await bot.ask("I want to kill myself", user_id=91, language="en")
    first = replies[0]["params"]["text"]
    assert first.startswith("<b>⚠️") and "988" in first.split("</b>")[0]
    assert all("reply_markup" not in r["params"] for r in replies)
    assert_valid_and_disclaimed(replies, "en")
    assert await bot.api.wait_until(lambda: logged(bot.log_path) == 2, timeout=10)
    flags = sqlite3.connect(bot.log_path).execute("SELECT question, emergency FROM exchanges ORDER BY rowid").fetchall()
    assert flags == [("打完瘦脸针喉咙发紧，喘不上气", 1), ("I want to kill myself", 1)]
