"""Questions and articles in traditional characters (common.text.to_simplified): search compares
everything in simplified characters, what is shown keeps the characters as written. Real model,
FAISS and SQLite unless a test says otherwise."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from opencc import OpenCC

from bot import answers_eval
from bot.service import Service
from common.text import CJK_RE, to_simplified, tokenize, writes_traditional
from corpus.chunk import embed_text
from presentation.plain import render_text
from presentation.texts import (
    DISCLAIMER,
    INTRO,
    NOT_COVERED,
    TRADITIONAL,
    TRUNCATED_NOTE,
    reply_language,
    say,
)
from retrieval.index import Index
from retrieval.pipeline import Pipeline
from retrieval.search import Searcher

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).parent.parent / "corpus" / "articles"


def test_traditional_characters_are_compared_as_simplified():
    assert to_simplified("打完瘦臉針之後喝水一直嗆到，面癱多久能恢復？") == "打完瘦脸针之后喝水一直呛到，面瘫多久能恢复？"
    assert tokenize("瘦臉針後面癱") == tokenize("瘦脸针后面瘫")
    assert embed_text("面癱恢復", "護理", "避免按摩。") == "面瘫恢复 / 护理\n避免按摩。"
    assert to_simplified("Botox 3 - 6個月") == "Botox 3 - 6个月"
    # the bundled articles are in simplified characters already: their chunks' hashes and vectors do not change
    for path in CORPUS.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        assert to_simplified(text) == text, path.name


def _traditional(lines: list[answers_eval.Labelled]) -> list[answers_eval.Labelled]:
    convert = OpenCC("s2t").convert
    return [dataclasses.replace(x, turns=[convert(t) for t in x.turns]) for x in lines]


def test_questions_in_traditional_characters_are_answered_as_in_simplified(pipeline):
    """The tune half's Chinese single-turn lines, converted to traditional characters by
    OpenCC, through the bot's own path: answered from the right article about as often as as
    written (before the conversion in search: 39 of 88 against 78)."""
    lines = [x for x in answers_eval.read_labelled(DATA / "answers.jsonl", split="tune", single_turn=True) if CJK_RE.search(x.turns[0])]
    service = Service(pipeline)
    simplified = answers_eval.report(answers_eval.run(service, lines))["all"]
    traditional = answers_eval.report(answers_eval.run(service, _traditional(lines)))["all"]
    assert simplified["right_article"]["of"] >= 60
    assert traditional["right_article"]["hits"] >= simplified["right_article"]["hits"] - 2
    assert traditional["refusal_precision"]["share"] >= simplified["refusal_precision"]["share"] - 0.03
    assert traditional["expected_text"]["hits"] >= simplified["expected_text"]["hits"] - 2


def test_a_traditional_question_is_logged_as_written_and_searched_in_simplified(pipeline):
    service = Service(pipeline)
    answer = service.answer("打瘦臉針後面癱多久能恢復？", channel="test", conversation="t").answer
    assert not answer.refused and answer.passages[0].hit.article == "botox-facial-palsy-recovery.txt"
    assert answer.question == "打瘦臉針後面癱多久能恢復？"
    assert answer.searched == "打瘦脸针后面瘫多久能恢复？"
    # a follow-up that refers back in traditional characters (這種) is read with the conversation
    follow = service.answer("這種情況要注意什麼", channel="test", conversation="t").answer
    assert follow.question == "這種情況要注意什麼"
    assert follow.searched == "打瘦脸针后面瘫多久能恢复？ 这种情况要注意什么"


def test_an_article_in_traditional_characters_answers_both_scripts(tmp_path, e5):
    """An operator's article written in traditional characters: found by a question in either
    script, and quoted as written."""
    corpus = tmp_path / "articles"
    corpus.mkdir()
    convert = OpenCC("s2t").convert
    for path in CORPUS.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        if path.name == "botox-long-term-side-effects.txt":
            text = convert(text)
        (corpus / path.name).write_text(text, encoding="utf-8")
    from embeddings import model_info
    from retrieval.build import build_index

    build_index(corpus, tmp_path / "data", e5)
    index = Index.load(tmp_path / "data", e5.name)
    try:
        info = model_info(e5.name)
        pipe = Pipeline(Searcher(index, e5), min_score=info.min_score, offsets=dict(info.min_score_offsets))
        for question in ["长期打肉毒素会产生抗体吗", "長期打肉毒素會產生抗體嗎"]:
            answer = pipe.answer(question)
            assert not answer.refused, question
            assert answer.passages[0].hit.article == "botox-long-term-side-effects.txt", question
            assert "抗體" in render_text(answer)  # quoted in the article's own characters
    finally:
        index.close()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


def test_who_writes_traditional_characters_is_told_apart_by_the_characters_only_one_script_has():
    assert writes_traditional("打瘦臉針後面癱多久能恢復？") and writes_traditional("後來呢")
    assert not writes_traditional("打瘦脸针后面瘫多久能恢复？")
    assert not writes_traditional("著名的医生说的")  # 著 is written in both scripts
    assert not writes_traditional("Can botox cause facial palsy?") and not writes_traditional("")
    assert reply_language("zh", "面癱能按摩嗎") == TRADITIONAL and reply_language("zh", "面瘫能按摩吗") == "zh"
    assert reply_language("en", "Is 瘦臉針 safe?") == "en"
    assert say(DISCLAIMER, TRADITIONAL) == "⚕️ 我只引用健康科普文章，內容僅供參考，不能代替醫生的診斷和治療。如有不適，請及時就醫。"
    assert say(DISCLAIMER, "en") == DISCLAIMER["en"] and say(DISCLAIMER, "fr") == DISCLAIMER["zh"]


def test_a_reply_to_traditional_characters_speaks_them_and_quotes_the_article_as_written(pipeline):
    answer = pipeline.answer("打瘦臉針後面癱多久能恢復？")
    text = render_text(answer)
    assert text.startswith(say(INTRO, TRADITIONAL)) and text.endswith(say(DISCLAIMER, TRADITIONAL))
    assert answer.passages[0].excerpt in text and "面瘫" in answer.passages[0].excerpt  # the article's own characters
    refused = render_text(pipeline.answer("紅燒肉怎麼做才好吃？"))
    assert refused == f"{say(NOT_COVERED, TRADITIONAL)}\n\n{say(DISCLAIMER, TRADITIONAL)}"
    long = pipeline.answer("".join(f"第{n}天我很擔心。" for n in range(1, 201)) + "打瘦臉針後面癱多久能恢復？")
    assert long.truncated_at and render_text(long).startswith(say(TRUNCATED_NOTE, TRADITIONAL).format(n=long.truncated_at))
    emergency = pipeline.answer("打完瘦臉針喉嚨發緊，喘不上氣")
    assert emergency.emergency and render_text(emergency).startswith(say(emergency.safety.notices, TRADITIONAL))
    assert say(emergency.safety.notices, TRADITIONAL) != emergency.safety.notices["zh"]
    assert render_text(pipeline.answer("打瘦脸针后面瘫多久能恢复？")).endswith(DISCLAIMER["zh"])  # simplified, as before


def test_the_bots_own_texts_in_traditional_characters_mean_the_face_never_noodles():
    from presentation.texts import TRADITIONAL, say
    from retrieval.safety import RedFlags

    # OpenCC reads "这和面瘫" as 和麪 (kneading dough): the stroke notice said 這和麪癱不同
    notices = RedFlags.load().by_name["stroke"].notice
    converted = say(notices, TRADITIONAL)
    assert "面癱" in converted and "麪" not in converted
