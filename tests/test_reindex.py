"""Re-indexing: incremental, atomic, one at a time, picked up live by a running bot."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus import DEFAULT_CORPUS
from embeddings import model_info
from presentation.plain import render_text
from retrieval.build import build_index
from retrieval.index import Index, ReindexRunning, current_version, reindex_lock
from retrieval.pipeline import Pipeline
from retrieval.search import Searcher

# A new article, saved the way many Chinese sites still serve pages: GB18030.
FILLER = (
    "玻尿酸溶解酶的主要成分是透明质酸酶,可以分解注射到皮肤里的玻尿酸,常用于处理玻尿酸注射后的硬结、凸起或栓塞。"
    "打溶解酶可能出现过敏反应,严重时会出现呼吸困难,因此注射前通常需要做皮试。"
    "溶解酶也可能把自身的透明质酸一起分解,导致局部凹陷,一般几周内会慢慢恢复。"
    "注射后局部可能红肿、疼痛,多数在几天内消退;如果出现明显的肿胀加重或发热,应及时就医。"
)
NEW_ARTICLE = "打溶解酶有哪些风险\n\n" + FILLER
NEW_QUESTION = "打溶解酶会有什么危害？"
COMMON_CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"

class CountingEncoder:
    """The real model, counting how many texts it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.texts = 0

    def encode(self, texts, **kw):
        self.texts += len(texts)
        return self.inner.encode(texts, **kw)


def copy_bundled(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for src in DEFAULT_CORPUS.iterdir():
        shutil.copy(src, dest / src.name)
    return dest


def ask(data: Path, encoder, question: str):
    index = Index.load(data, encoder.name)
    try:
        return Pipeline(Searcher(index, encoder), min_score=model_info("m3e-small").min_score).answer(question)
    finally:
        index.close()


def chunk_hashes(data: Path) -> dict[str, set[str]]:
    import sqlite3

    conn = sqlite3.connect(current_version(data) / "chunks.sqlite")
    out: dict[str, set[str]] = {}
    for article, content_hash in conn.execute("SELECT article, content_hash FROM chunks"):
        out.setdefault(article, set()).add(content_hash)
    conn.close()
    return out


def sentences_of(data: Path, content_hash: str) -> list[str]:
    import sqlite3

    from retrieval.sentences import units

    conn = sqlite3.connect(current_version(data) / "chunks.sqlite")
    (text,) = conn.execute("SELECT text FROM chunks WHERE content_hash = ?", (content_hash,)).fetchone()
    conn.close()
    return [s for _, s in units(text)]


def test_add_change_remove_embeds_exactly_what_changed(tmp_path, m3e):
    corpus = copy_bundled(tmp_path / "corpus")
    data = tmp_path / "data"
    encoder = CountingEncoder(m3e)
    build_index(corpus, data, encoder)
    before = chunk_hashes(data)
    assert ask(data, m3e, "长期打肉毒素有什么副作用？").passages[0].hit.article == "botox-long-term-side-effects.txt"
    assert "打溶解酶有哪些风险" not in render_text(ask(data, m3e, NEW_QUESTION))

    (corpus / "hyaluronidase-risks.txt").write_bytes(NEW_ARTICLE.encode("gb18030"))
    massage = corpus / "facial-palsy-massage-en.txt"
    massage.write_text(massage.read_text() + "\n\nWarm compresses before the massage relax the facial muscles and make the massage more comfortable.\n")
    (corpus / "botox-long-term-side-effects.txt").unlink()
    encoder.texts = 0
    report = build_index(corpus, data, encoder)

    assert report.added == ["hyaluronidase-risks.txt"]
    assert report.changed == ["facial-palsy-massage-en.txt"]
    assert report.removed == ["botox-long-term-side-effects.txt"]
    assert len(report.unchanged) == 3
    after = chunk_hashes(data)
    new_chunks = after["hyaluronidase-risks.txt"] | (after["facial-palsy-massage-en.txt"] - before["facial-palsy-massage-en.txt"])
    assert report.embedded == len(new_chunks) > 0  # exactly the new and changed chunks
    new_sentences = {s for c in new_chunks for s in sentences_of(data, c)}
    assert 0 < report.sentences_embedded <= len(new_sentences)  # and only sentences not seen before
    assert encoder.texts == report.embedded + report.sentences_embedded
    assert "botox-long-term-side-effects.txt" not in after  # removed from SQLite...
    index = Index.load(data, m3e.name)
    assert index.dense[0].ntotal == report.chunks == sum(len(v) for v in after.values())  # ...and from FAISS
    index.close()
    for path in report.unchanged:
        assert after[path] == before[path]

    # Answers follow: the GB18030 article is read correctly and answers its question...
    answer = ask(data, m3e, NEW_QUESTION)
    assert not answer.refused and answer.passages[0].hit.article == "hyaluronidase-risks.txt"
    assert "过敏反应" in render_text(answer) and answer.passages[0].hit.title == "打溶解酶有哪些风险"
    # ...and the removed article is never quoted again.
    assert all(h.article != "botox-long-term-side-effects.txt" for h in ask(data, m3e, "长期打肉毒素有什么副作用？").hits)

    encoder.texts = 0
    unchanged = build_index(corpus, data, encoder)
    assert unchanged.embedded == encoder.texts == 0 and len(unchanged.unchanged) == 5


def test_bad_files_are_skipped_with_a_reason_and_never_abort(tmp_path, fake_encoder):
    corpus = copy_bundled(tmp_path / "corpus")
    (corpus / "empty.txt").write_text("")
    (corpus / "binary.html").write_bytes(bytes(range(256)) * 10)
    (corpus / "huge.txt").write_text("面瘫" * 3_000_000)
    (corpus / "latin1.txt").write_bytes("Café au lait spots are flat brown patches of skin; most are harmless and need no treatment.".encode("latin-1"))
    report = build_index(corpus, tmp_path / "data", fake_encoder)
    reasons = {p.path: p.reason for p in report.problems}
    assert set(reasons) == {"empty.txt", "binary.html", "huge.txt"}
    assert "too large" in reasons["huge.txt"] and "binary" in reasons["binary.html"]
    assert report.articles == 6  # the five plus the Latin-1 one, decoded
    assert "latin1.txt" in report.added


def test_an_orphaned_half_written_version_is_cleaned_up(tmp_path, fake_encoder):
    data = tmp_path / "data"
    build_index(DEFAULT_CORPUS, data, fake_encoder)
    first = current_version(data)
    orphan = data / "index-20000101T000000000000Z-1"  # what a killed build leaves behind
    orphan.mkdir()
    build_index(DEFAULT_CORPUS, data, fake_encoder)
    assert not orphan.exists()
    assert first.exists()  # the version a running bot may still be using is kept


def test_a_second_reindex_is_refused_naming_the_holder(tmp_path, fake_encoder):
    data = tmp_path / "data"
    with reindex_lock(data):
        with pytest.raises(ReindexRunning, match=f"pid {os.getpid()}"):
            build_index(DEFAULT_CORPUS, data, fake_encoder)
    build_index(DEFAULT_CORPUS, data, fake_encoder)  # free again afterwards


def test_sigkill_mid_reindex_leaves_the_old_index_serving(tmp_path, m3e):
    corpus = copy_bundled(tmp_path / "corpus")
    data = tmp_path / "data"
    build_index(corpus, data, m3e)
    live = current_version(data)
    rng = random.Random(5)
    for n in range(150):  # distinct new text: keeps the re-index embedding for ~10 s
        body = "。".join("".join(rng.choice(COMMON_CHARS) for _ in range(30)) for _ in range(10))
        (corpus / f"extra-{n:03d}.txt").write_text(f"补充文章{n}\n\n{body}。", "utf-8")
    env = {**os.environ, "ARTICLEBOT_DATA": str(data), "ARTICLEBOT_CORPUS": str(corpus), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "index"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lock = data / "reindex.lock"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "pid" not in (lock.read_text() if lock.exists() else ""):
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        time.sleep(1.0)  # well inside the embedding of ~130 chunks
        assert proc.poll() is None, "the re-index finished before it could be killed"

        # A second re-index meanwhile is refused, naming the process that holds the lock.
        second = subprocess.run([sys.executable, "-m", "bot", "index"], env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert f"Another re-index of {data} is running (pid {proc.pid}" in second.stderr + second.stdout

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert current_version(data) == live
    answer = ask(data, m3e, "打瘦脸针后面瘫多久能恢复？")
    assert answer.passages[0].hit.article == "botox-facial-palsy-recovery.txt"
    with reindex_lock(data):  # the kernel released the killed process's lock
        pass


async def test_a_running_bot_switches_to_the_new_index_without_failing_a_question(tmp_path, m3e):
    from tests.test_telegram import (
        all_text,
        assert_valid_and_disclaimed,
        start_bot,
        stop_bot,
    )

    corpus = copy_bundled(tmp_path / "corpus")
    data = tmp_path / "data"
    build_index(corpus, data, m3e)
    searcher = Searcher(Index.load(data, m3e.name), m3e, data_dir=data)
    pipeline = Pipeline(searcher, min_score=model_info("m3e-small").min_score)
    bot = await start_bot(pipeline, tmp_path)
    try:
        _, replies = await bot.ask(NEW_QUESTION, user_id=60)
        assert "打溶解酶有哪些风险" not in all_text(replies)  # not in the corpus yet
        await bot.api.message("/about", user_id=61)
        assert await bot.api.wait_until(lambda: bot.api.texts_to(61))
        assert "5 篇文章" in bot.api.texts_to(61)[0]

        (corpus / "hyaluronidase-risks.txt").write_bytes(NEW_ARTICLE.encode("gb18030"))
        reindex = asyncio.create_task(asyncio.to_thread(build_index, corpus, data, m3e))
        asked = []
        while not reindex.done():  # keep asking while the re-index runs and swaps
            asked.append(await bot.api.message("瘦脸针会导致面瘫吗", user_id=62 + len(asked)))
            await asyncio.sleep(0.2)
        await reindex
        asked.append(await bot.api.message("瘦脸针会导致面瘫吗", user_id=62 + len(asked)))
        assert await bot.api.wait_until(lambda: all(bot.api.replies_to(m) for m in asked), timeout=60)
        for m in asked:
            replies = bot.api.replies_to(m)
            assert "📄" in all_text(replies) and "出了点问题" not in all_text(replies)
            assert_valid_and_disclaimed(replies)

        await asyncio.sleep(Searcher.CHECK_EVERY)
        _, replies = await bot.ask(NEW_QUESTION, user_id=200)
        assert "打溶解酶有哪些风险" in all_text(replies) and "过敏反应" in all_text(replies)
        await bot.api.message("/about", user_id=201)
        assert await bot.api.wait_until(lambda: bot.api.texts_to(201))
        assert "6 篇文章" in bot.api.texts_to(201)[0]
    finally:
        await stop_bot(bot)


def seed_vector_cache(bundled_data: Path, data: Path) -> None:
    """Start `data` with the vectors the bundled index computed (the model's background
    included): a process indexing there embeds only new text."""
    data.mkdir(parents=True, exist_ok=True)
    for part in bundled_data.glob("vectors.sqlite*"):
        shutil.copy(part, data / part.name)


async def test_reindex_command_is_for_operators_only(tmp_path, e5, bundled_data, monkeypatch):
    from tests.test_telegram import start_bot, stop_bot

    corpus = copy_bundled(tmp_path / "corpus")
    data = tmp_path / "data"
    seed_vector_cache(bundled_data, data)
    build_index(corpus, data, e5)  # the default model, which the /reindex command's own process uses
    monkeypatch.setenv("ARTICLEBOT_DATA", str(data))
    monkeypatch.setenv("ARTICLEBOT_CORPUS", str(DEFAULT_CORPUS))  # /reindex follows the index's own folder, not this
    info = model_info(e5.name)
    pipeline = Pipeline(Searcher(Index.load(data, e5.name), e5, data_dir=data), min_score=info.min_score, offsets=dict(info.min_score_offsets))
    bot = await start_bot(pipeline, tmp_path)
    bot.app.bot_data["services"].admins = frozenset({70})
    try:
        await bot.api.message("/reindex", user_id=71)
        assert await bot.api.wait_until(lambda: bot.api.texts_to(71))
        assert "只有管理员" in bot.api.texts_to(71)[0]

        (corpus / "hyaluronidase-risks.txt").write_bytes(NEW_ARTICLE.encode("gb18030"))
        (corpus / "botox-long-term-side-effects.txt").unlink()
        (corpus / "empty.txt").write_text("")
        await bot.api.message("/reindex", user_id=70)
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(70)) >= 2, timeout=120)
        done = bot.api.texts_to(70)[-1]
        assert "索引已更新：5 篇文章" in done and "新增 1" in done and "删除 1" in done and "跳过 1 个文件" in done
        assert "新增的文章：\n• hyaluronidase-risks.txt" in done and "删除的文章：\n• botox-long-term-side-effects.txt" in done
        assert f"文章文件夹：{corpus.resolve()}" in done
        assert pipeline.searcher.index.meta.articles == 5  # switched without a restart
        assert pipeline.searcher.index.meta.corpus == str(corpus.resolve())
    finally:
        await stop_bot(bot)


def test_the_reindex_child_ignores_look_alike_folders_in_the_working_directory(tmp_path, bundled_data):
    from bot.telegram.context import Services

    cwd = tmp_path / "cwd"
    for package in ("corpus", "bot", "retrieval"):  # what an operator's folder may well hold
        (cwd / package).mkdir(parents=True)
        (cwd / package / "__init__.py").write_text("")
    corpus = tmp_path / "articles"
    corpus.mkdir()
    (corpus / "massage.txt").write_bytes((DEFAULT_CORPUS / "facial-palsy-massage-en.txt").read_bytes())
    seed_vector_cache(bundled_data, tmp_path / "data")  # the child's default model: it embeds only new text
    (cwd / ".env").write_text(f"ARTICLEBOT_CORPUS={corpus}\n")  # .env in the working directory still applies
    command = Services.__dataclass_fields__["reindex_command"].default
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["added_paths"] == ["massage.txt"] and figures["corpus"] == str(corpus.resolve())


async def fake_bot(tmp_path, fake_encoder, corpus: Path | None = None):
    """A bot over a fake-encoder index (plumbing only), with operator 70 and a stand-in
    re-index command that records its arguments in `ran` and prints `figures.json`."""
    from tests.test_telegram import start_bot

    data = tmp_path / "data"
    build_index(corpus or copy_bundled(tmp_path / "corpus"), data, fake_encoder)
    pipeline = Pipeline(Searcher(Index.load(data, fake_encoder.name), fake_encoder, data_dir=data), min_score=0.5)
    bot = await start_bot(pipeline, tmp_path)
    svc = bot.app.bot_data["services"]
    svc.admins = frozenset({70})
    script = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:])); print(open(sys.argv[1] + '.json').read())"
    svc.reindex_command = (sys.executable, "-c", script, str(tmp_path / "ran"))
    return bot


async def test_admin_commands_work_only_in_a_private_chat(tmp_path, fake_encoder):
    from tests.test_telegram import stop_bot

    bot = await fake_bot(tmp_path, fake_encoder)
    group = -1001
    try:
        await bot.api.message("/reindex", user_id=71, chat_id=group, chat_type="supergroup")
        assert await bot.api.wait_until(lambda: bot.api.texts_to(group))
        assert "只有管理员" in bot.api.texts_to(group)[0]  # a non-admin, anywhere: denied
        for kind in ("group", "supergroup"):
            await bot.api.message("/reindex@articlebot_test_bot", user_id=70, chat_id=group, chat_type=kind)
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(group)) == 3)
        for text in bot.api.texts_to(group)[1:]:
            assert "管理命令只能在与我的私聊中使用" in text
        await asyncio.sleep(0.5)
        assert len(bot.api.texts_to(group)) == 3 and not (tmp_path / "ran").exists()  # nothing was run
    finally:
        await stop_bot(bot)


async def test_reindex_names_the_articles_and_uses_the_remembered_folder(tmp_path, fake_encoder, monkeypatch):
    from tests.test_telegram import stop_bot

    corpus = copy_bundled(tmp_path / "corpus")
    monkeypatch.setenv("ARTICLEBOT_CORPUS", str(tmp_path / "somewhere-else"))
    bot = await fake_bot(tmp_path, fake_encoder, corpus)
    added = [f"new-{n:02d}.txt" for n in range(12)]
    figures = {"articles": 16, "chunks": 90, "embedded": 40, "seconds": 3.5, "added": 12, "changed": 1, "removed": 1,
               "unchanged": 3, "skipped": [{"path": "empty.txt", "reason": "empty file"}], "duplicates": [],
               "added_paths": added, "changed_paths": ["a.txt"], "removed_paths": ["gone.txt"],
               "corpus": str(corpus.resolve()), "previous_corpus": str(corpus.resolve())}  # fmt: skip
    (tmp_path / "ran.json").write_text(json.dumps(figures))
    try:
        await bot.api.message("/reindex", user_id=70, language="en")
        assert await bot.api.wait_until(lambda: len(bot.api.texts_to(70)) >= 2, timeout=60)
        done = bot.api.texts_to(70)[-1]
        assert json.loads((tmp_path / "ran").read_text()) == ["--corpus", str(corpus.resolve())]
        assert "(12 added, 1 changed, 1 removed, 3 unchanged, 1 files skipped;" in done
        assert f"Article folder: {corpus.resolve()}" in done
        assert "Added:\n• new-00.txt\n" in done and "• new-09.txt\n… and 2 more" in done and "new-10.txt" not in done
        assert "Changed:\n• a.txt" in done and "Removed:\n• gone.txt" in done
    finally:
        await stop_bot(bot)
