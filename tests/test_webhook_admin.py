"""Webhook mode's secret token (refused without one unless a proxy checks requests; Telegram's
rule for the secret) and the operators' /reindex through the running bot: operators only,
private chats only, the child's command line, and the report of what changed."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.telegram.admin import done_text
from bot.telegram.fake_botapi import FakeBotAPI, ServerThread
from bot.telegram.webhook import TelegramStartError, WebhookOptions
from corpus import DEFAULT_CORPUS
from presentation.texts import DISCLAIMER
from retrieval.build import build_index
from retrieval.index import Index, current_version
from retrieval.pipeline import Pipeline
from retrieval.search import Searcher
from tests.test_reindex import NEW_ARTICLE, copy_bundled
from tests.test_telegram import start_bot, stop_bot

NO_SECRET = ("Webhook mode needs a secret token (--secret-token or TELEGRAM_WEBHOOK_SECRET) so that forged updates "
             "are refused; pass --no-secret-token only if a proxy in front checks requests itself.")  # fmt: skip
BAD_SECRET = "The webhook secret token must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)."
TRUSTED = "Webhook without a secret token: every request is trusted; make sure the proxy in front checks them."
URL = "https://bot.example.org/hook"


def notice(text: str, lang: str) -> str:
    """A notice as Telegram receives it: the text, then the disclaimer in the user's language."""
    return f"{text}\n\n<i>{DISCLAIMER[lang]}</i>"


# -- the webhook's secret token ----------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_webhook_without_a_secret_is_refused(secret, caplog):
    with pytest.raises(TelegramStartError) as refused:
        WebhookOptions(URL, secret_token=secret).check()
    assert str(refused.value) == NO_SECRET
    assert caplog.records == []


@pytest.mark.parametrize("secret", [None, ""])
def test_webhook_without_a_secret_behind_a_checking_proxy_starts_with_a_warning(secret, caplog):
    caplog.set_level(logging.WARNING)
    WebhookOptions(URL, secret_token=secret, unchecked=True).check()
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [("bot.telegram.webhook", logging.WARNING, TRUSTED)]


@pytest.mark.parametrize("secret", ["s3cret-token", "a", "Z", "0", "_", "-", "A" * 256,
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz-0123456789"])  # fmt: skip
@pytest.mark.parametrize("unchecked", [False, True])
def test_webhook_secret_of_telegrams_characters_is_accepted_quietly(secret, unchecked, caplog):
    caplog.set_level(logging.DEBUG)
    WebhookOptions(URL, secret_token=secret, unchecked=unchecked).check()
    assert caplog.records == []


@pytest.mark.parametrize("secret", ["A" * 257, "bad secret!", " token", "token ", "token\n", "tok.en", "tok/en",
                                    "tok=en", "tök", "ключ", "令牌", "tok\x00en", "+", "~"])  # fmt: skip
@pytest.mark.parametrize("unchecked", [False, True])  # --no-secret-token does not excuse a secret Telegram would refuse
def test_webhook_secret_telegram_would_refuse_is_refused(secret, unchecked, caplog):
    with pytest.raises(TelegramStartError) as refused:
        WebhookOptions(URL, secret_token=secret, unchecked=unchecked).check()
    assert str(refused.value) == BAD_SECRET
    assert caplog.records == []


@pytest.fixture
def indexed(tmp_path, fake_encoder) -> Path:
    """ARTICLEBOT_DATA holding an index (so `run` starts the bot instead of building one)."""
    data = tmp_path / "data"
    build_index(DEFAULT_CORPUS, data, fake_encoder)
    return data


@pytest.mark.parametrize(
    ("secret", "flags", "sentence"),
    [
        (None, [], NO_SECRET),
        ("", [], NO_SECRET),  # TELEGRAM_WEBHOOK_SECRET= in .env, left empty
        ("bad secret!", [], BAD_SECRET),
        ("x" * 257, ["--no-secret-token"], BAD_SECRET),
    ],
)
def test_run_webhook_secret_from_the_environment_refused_before_telegram_is_called(indexed, monkeypatch, secret, flags,
                                                                                 sentence):  # fmt: skip
    with ServerThread(FakeBotAPI()) as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
        monkeypatch.setenv("TELEGRAM_API_URL", api.url)
        if secret is not None:
            monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", secret)
        result = CliRunner().invoke(main, ["run", "--webhook-url", URL, "--port", "1", *flags])
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == f"Error: {sentence}"
        assert api.calls == []  # nothing was asked of Telegram, no webhook set


# -- /reindex in the running bot ---------------------------------------------------------

# A stand-in for `articlebot index --json`: records its arguments, re-indexes DATA with the
# test's deterministic encoder (after the test changed the folder), prints a progress line
# and then the figures the test wrote (or fails as told).
CHILD = """
import json, sys
from pathlib import Path
ran, data, mode = sys.argv[1:4]
Path(ran).write_text(json.dumps(sys.argv[4:]))
if mode == "fail":
    sys.stderr.buffer.write(Path(ran + ".err").read_bytes())
    sys.exit(1)
from retrieval.build import build_index
from tests.conftest import FakeEncoder
corpus = sys.argv[sys.argv.index("--corpus") + 1] if "--corpus" in sys.argv else data + "-corpus"
build_index(Path(corpus), Path(data), FakeEncoder())
print("Indexing 6 articles ...")
print(Path(ran + ".json").read_text())
"""


class Operator:
    """A running bot over a fake-encoder index of a copy of the bundled corpus, operator 70."""

    def __init__(self, tmp_path: Path, fake_encoder, *, remembered: bool = True):
        self.tmp_path = tmp_path
        self.corpus = copy_bundled(tmp_path / "data-corpus")
        self.data = tmp_path / "data"
        build_index(self.corpus, self.data, fake_encoder)
        if not remembered:  # an index built before indexes remembered their folder
            meta = current_version(self.data) / "meta.json"
            meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "corpus"}))
        searcher = Searcher(Index.load(self.data, fake_encoder.name), fake_encoder, data_dir=self.data)
        searcher.CHECK_EVERY = 3600  # no periodic look at the data folder during the test: only /reindex switches
        self.pipeline = Pipeline(searcher, min_score=0.5)
        self.ran = tmp_path / "ran"
        self.bot = None

    async def start(self, mode: str = "ok"):
        self.bot = await start_bot(self.pipeline, self.tmp_path)
        svc = self.bot.app.bot_data["services"]
        svc.admins = frozenset({70})
        svc.reindex_command = (sys.executable, "-c", CHILD, str(self.ran), str(self.data), mode)
        return self.bot

    async def stop(self):
        await stop_bot(self.bot)


async def test_reindex_by_an_operator_in_private_runs_the_child_and_switches_to_the_new_index(tmp_path, fake_encoder):
    op = Operator(tmp_path, fake_encoder)
    before = op.pipeline.searcher.index.folder
    figures = {"articles": 6, "chunks": 31, "embedded": 4, "seconds": 1.5, "added": 1, "changed": 0, "removed": 0,
               "unchanged": 5, "skipped": [], "duplicates": [], "added_paths": ["hyaluronidase-risks.txt"],
               "changed_paths": [], "removed_paths": [], "corpus": str(op.corpus.resolve())}  # fmt: skip
    (tmp_path / "ran.json").write_text(json.dumps(figures))
    (op.corpus / "hyaluronidase-risks.txt").write_bytes(NEW_ARTICLE.encode("gb18030"))
    bot = await op.start()
    try:
        await bot.api.message("/reindex", user_id=70)
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(70)) >= 2, timeout=60)
        assert bot.api.texts_to(70) == [
            notice("正在重建索引，完成后会通知您……", "zh"),
            notice("索引已更新：6 篇文章，31 个段落（新增 1、修改 0、删除 0、未变 5，跳过 0 个文件；重新计算 4 个段落的向量，"
                   f"用时 1.5 秒）。\n\n文章文件夹：{op.corpus.resolve()}\n\n新增的文章：\n• hyaluronidase-risks.txt", "zh"),
        ]  # fmt: skip
        assert json.loads(op.ran.read_text()) == ["--corpus", str(op.corpus.resolve())]  # the folder the index remembers
        # switched when the child finished, not at the next look at the data folder
        assert op.pipeline.searcher.index.folder == current_version(op.data) != before
        assert op.pipeline.searcher.index.meta.articles == 6
    finally:
        await op.stop()


async def test_reindex_of_an_index_that_does_not_remember_its_folder_runs_the_command_alone(tmp_path, fake_encoder):
    op = Operator(tmp_path, fake_encoder, remembered=False)
    figures = {"articles": 5, "chunks": 30, "embedded": 0, "seconds": 0.5, "added": 0, "changed": 0, "removed": 0,
               "unchanged": 5, "skipped": [], "duplicates": []}  # fmt: skip
    (tmp_path / "ran.json").write_text(json.dumps(figures))
    bot = await op.start()
    try:
        await bot.api.message("/reindex", user_id=70, language="en")
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(70)) >= 2, timeout=60)
        assert bot.api.texts_to(70) == [
            notice("Re-indexing; I will tell you when it is done…", "en"),
            notice("Index updated: 5 articles, 30 passages (0 added, 0 changed, 0 removed, 5 unchanged, 0 files skipped; "
                   "0 passages embedded in 0.5 s).", "en"),
        ]  # fmt: skip
        assert json.loads(op.ran.read_text()) == []  # no --corpus: the child uses ARTICLEBOT_CORPUS or the bundled one
    finally:
        await op.stop()


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (b"Traceback (most recent call last):\n  ...\nError: Another re-index of /srv/data is running (pid 4242).\n",
         "Another re-index of /srv/data is running (pid 4242)."),
        (b"Error: Cannot read caf\xe9.txt\n", "Cannot read caf\ufffd.txt"),  # bytes that are not UTF-8
        (b"", "unknown error"),
        (b"\n  \n", "unknown error"),
    ],
)
async def test_reindex_that_fails_says_why_and_keeps_the_index(tmp_path, fake_encoder, stderr, reason):
    op = Operator(tmp_path, fake_encoder)
    before = op.pipeline.searcher.index.folder
    (tmp_path / "ran.err").write_bytes(stderr)
    bot = await op.start("fail")
    try:
        await bot.api.message("/reindex", user_id=70)
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(70)) >= 2, timeout=60)
        assert bot.api.texts_to(70)[-1] == notice(f"重建索引失败，旧索引仍在使用：{reason}", "zh")
        assert op.pipeline.searcher.index.folder == before
    finally:
        await op.stop()


async def test_reindex_by_a_non_operator_is_refused_and_runs_nothing(tmp_path, fake_encoder):
    op = Operator(tmp_path, fake_encoder)
    bot = await op.start()
    try:
        await bot.api.message("/reindex", user_id=71)
        await bot.api.message("/reindex", user_id=72, language="en")
        await bot.api.message("/reindex", user_id=73, chat_id=-1002, chat_type="group")
        assert await bot.api.wait_until(lambda: bot.api.texts_to(71) and bot.api.texts_to(72) and bot.api.texts_to(-1002))
        assert bot.api.texts_to(71)[0] == bot.api.texts_to(-1002)[0] == notice("抱歉，只有管理员可以重建索引。", "zh")
        assert bot.api.texts_to(72)[0] == notice("Sorry, only the operators can re-index the articles.", "en")
        await bot.api.message("/help", user_id=71)  # handled after the /reindex: nothing more came of it
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(71)) == 2)
        assert [len(bot.api.texts_to(c)) for c in (71, 72, -1002)] == [2, 1, 1] and not op.ran.exists()
    finally:
        await op.stop()


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_reindex_by_an_operator_outside_a_private_chat_is_refused(tmp_path, fake_encoder, kind):
    op = Operator(tmp_path, fake_encoder)
    bot = await op.start()
    try:
        await bot.api.message("/reindex@articlebot_test_bot", user_id=70, chat_id=-1003, chat_type=kind, language="en")
        assert await bot.api.wait_until(lambda: bot.api.texts_to(-1003))
        assert bot.api.texts_to(-1003)[0] == notice(
            "For safety, operator commands work only in a private chat with me; please send /reindex there.", "en"
        )
        await bot.api.message("/help", user_id=70)
        assert await bot.api.wait_until(lambda: bot.api.texts_to(70))
        assert len(bot.api.texts_to(-1003)) == 1 and not op.ran.exists()
    finally:
        await op.stop()


# -- the report (done_text) --------------------------------------------------------------

FIGURES = {"articles": 16, "chunks": 90, "embedded": 40, "seconds": 3.5, "added": 12, "changed": 1, "removed": 11,
           "unchanged": 3, "skipped": [{"path": "empty.txt", "reason": "empty file"}, {"path": "b.bin", "reason": "binary"}],
           "duplicates": [], "corpus": "/srv/articles", "previous_corpus": "/srv/articles"}  # fmt: skip


def test_reindex_report_lists_up_to_ten_articles_of_each_kind_then_how_many_more():
    figures = {**FIGURES, "added_paths": [f"new-{n:02d}.txt" for n in range(12)], "changed_paths": ["a.txt"],
               "removed_paths": [f"gone-{n:02d}.txt" for n in range(11)]}  # fmt: skip
    assert done_text(figures, "en") == (
        "Index updated: 16 articles, 90 passages (12 added, 1 changed, 11 removed, 3 unchanged, 2 files skipped; "
        "40 passages embedded in 3.5 s).\n\n"
        "Article folder: /srv/articles\n\n"
        "Added:\n• new-00.txt\n• new-01.txt\n• new-02.txt\n• new-03.txt\n• new-04.txt\n• new-05.txt\n• new-06.txt\n"
        "• new-07.txt\n• new-08.txt\n• new-09.txt\n… and 2 more\n\n"
        "Changed:\n• a.txt\n\n"
        "Removed:\n• gone-00.txt\n• gone-01.txt\n• gone-02.txt\n• gone-03.txt\n• gone-04.txt\n• gone-05.txt\n"
        "• gone-06.txt\n• gone-07.txt\n• gone-08.txt\n• gone-09.txt\n… and 1 more"
    )


def test_reindex_report_of_exactly_ten_lists_them_all_in_chinese():
    figures = {**FIGURES, "added": 10, "changed": 0, "removed": 0, "skipped": [],
               "added_paths": [f"新文章{n}.txt" for n in range(10)], "changed_paths": [], "removed_paths": []}  # fmt: skip
    assert done_text(figures, "zh") == (
        "索引已更新：16 篇文章，90 个段落（新增 10、修改 0、删除 0、未变 3，跳过 0 个文件；重新计算 40 个段落的向量，用时 3.5 秒）。\n\n"
        "文章文件夹：/srv/articles\n\n"
        "新增的文章：\n" + "\n".join(f"• 新文章{n}.txt" for n in range(10))
    )


def test_reindex_report_of_an_older_child_without_folder_or_paths():
    figures = {k: v for k, v in FIGURES.items() if k not in ("skipped", "corpus")}
    assert done_text({**figures, "corpus": ""}, "zh") == done_text(figures, "zh") == (
        "索引已更新：16 篇文章，90 个段落（新增 12、修改 1、删除 11、未变 3，跳过 0 个文件；重新计算 40 个段落的向量，用时 3.5 秒）。"
    )
    assert done_text({**figures, "removed_paths": ["gone.txt"], "added_paths": None}, "zh").endswith(
        "未变 3，跳过 0 个文件；重新计算 40 个段落的向量，用时 3.5 秒）。\n\n删除的文章：\n• gone.txt"
    )
