"""End to end with the real default model (multilingual-e5-small), real FAISS and SQLite over the bundled corpus."""

from __future__ import annotations

import dataclasses

import pytest

from convlog.records import record_of
from presentation.plain import render_text
from presentation.texts import DISCLAIMER, NOT_COVERED, TRUNCATED_NOTE
from retrieval.pipeline import MAX_QUESTION_CHARS

ON_TOPIC = [
    ("打瘦脸针后面瘫多久能恢复？", "botox-facial-palsy-recovery.txt"),
    ("长期打肉毒素有什么副作用？", "botox-long-term-side-effects.txt"),
    ("瘦脸针打多了脸颊凹陷、皮肤松弛还能恢复吗", "botox-sunken-cheeks-sagging-skin.txt"),
    ("打完瘦脸针一边脸大一边脸小怎么办", "botox-uneven-face-after-injection.txt"),
    ("Can massage help facial nerve palsy?", "facial-palsy-massage-en.txt"),
]

OFF_TOPIC = [
    "红烧肉怎么做才好吃？",
    "明天北京天气怎么样",
    "推荐一部好看的电影",
    "How do I bake sourdough bread?",
]


@pytest.mark.parametrize("question,article", ON_TOPIC)
def test_answered_from_the_right_article(pipeline, question, article):
    answer = pipeline.answer(question)
    assert not answer.refused
    assert answer.passages[0].hit.article == article
    assert answer.passages[0].hit.title in render_text(answer)
    assert answer.passages[0].excerpt in render_text(answer)


def test_palsy_recovery_answer_quotes_the_recovery_time(pipeline):
    answer = pipeline.answer("打瘦脸针后面瘫多久能恢复？")
    assert "3个月内完全恢复" in render_text(answer)
    assert "https://www.jiaozhiliu.org.cn/show-181930.html" in render_text(answer)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_is_refused_not_quoted(pipeline, question):
    answer = pipeline.answer(question)
    assert answer.refused
    assert answer.passages == []
    lang = "en" if question.isascii() else "zh"
    assert NOT_COVERED[lang] in render_text(answer)


@pytest.mark.parametrize("question", [q for q, _ in ON_TOPIC] + OFF_TOPIC + ["", "   ", "🙂🙂", "\x00\x07", "面瘫" * 2000])
def test_every_reply_ends_with_the_disclaimer_in_the_questions_language(pipeline, question):
    answer = pipeline.answer(question)
    lang = "en" if question.isascii() and any(c.isalpha() for c in question) else "zh"
    assert render_text(answer).endswith(DISCLAIMER[lang])


@pytest.mark.parametrize("question", ["هل يمكن أن يسبب البوتوكس شلل الوجه؟", "Ботокс вызывает паралич лица?", "보톡스 부작용"])
def test_a_question_in_another_script_is_answered_in_english(pipeline, question):
    """The bot speaks Chinese and English: letters of neither script get English, not Chinese."""
    answer = pipeline.answer(question)
    assert answer.lang == "en"
    assert render_text(answer).endswith(DISCLAIMER["en"])


def test_odd_input_gets_a_polite_reply(pipeline):
    empty = pipeline.answer("  \u200b ")
    assert empty.empty and empty.refused and "请" in render_text(empty)

    story = "".join(f"第{day}天我在家休息，心情不太好。" for day in range(1, 101))  # 1,600 characters, no question
    long = pipeline.answer(story + "打瘦脸针后面瘫多久能恢复？")
    note = TRUNCATED_NOTE[long.lang].format(n=long.truncated_at)
    assert long.truncated_at == MAX_QUESTION_CHARS and "1000" in note
    assert render_text(long).startswith(note)
    assert not long.refused and long.question.endswith("打瘦脸针后面瘫多久能恢复？")  # the question at the end is read

    pasted = pipeline.answer("打瘦脸针后面瘫多久能恢复？" + "我很担心。" * 400)  # the same sentence 400 times: read once
    assert pasted.truncated_at is None and pasted.question == "打瘦脸针后面瘫多久能恢复？我很担心。" and not pasted.refused


def test_an_emergency_after_a_long_preamble_is_flagged_and_the_log_keeps_the_whole_message(pipeline):
    preamble = "".join(f"我想问一下瘦脸针的价格，还有哪家诊所比较好，朋友推荐了{n}家但是我不太确定。" for n in range(2, 42))  # past MAX_QUESTION_CHARS
    message = preamble + "我妈刚才突然嘴歪了，说话也含糊不清"
    answer = pipeline.answer(message)
    assert answer.truncated_at == MAX_QUESTION_CHARS and len(answer.question) <= MAX_QUESTION_CHARS
    assert answer.question.startswith("…") and answer.question.endswith("说话也含糊不清")  # read: the part nearest its end
    assert answer.emergency and answer.safety.notices  # but every word of it read for red flags
    assert record_of(answer, channel="test", reply="", latency_ms=0, model=None, index_version=None).question == message
    assert pipeline.answer(preamble).emergency is None  # the preamble alone is no emergency


def test_repeated_sentences_are_searched_once():
    from retrieval.pipeline import without_repeats

    assert without_repeats("打瘦脸针后面瘫多久能恢复？" + "我很担心。" * 400) == "打瘦脸针后面瘫多久能恢复？我很担心。"
    assert without_repeats("Is it bad? I worry. i worry!") == "Is it bad? I worry."
    assert without_repeats("瘦脸针。面瘫。瘦脸针。") == "瘦脸针。面瘫。"


def test_a_question_pasted_again_and_again_is_searched_once(pipeline):
    from retrieval.pipeline import without_repeats

    assert without_repeats("打瘦脸针会导致面瘫吗" * 100) == "打瘦脸针会导致面瘫吗"
    assert without_repeats("好疼好疼好疼 打完针第三天脸肿") == "好疼 打完针第三天脸肿"
    assert without_repeats("电话13333333333多少钱") == "电话13333333333多少钱"  # a number is no repeat
    assert without_repeats("哈哈哈，会不会面瘫") == "哈哈哈，会不会面瘫"  # one character repeated: a laugh, not a paste
    alone, pasted = pipeline.answer("打瘦脸针会导致面瘫吗"), pipeline.answer("打瘦脸针会导致面瘫吗" * 500)
    assert pasted.question == "打瘦脸针会导致面瘫吗" and pasted.truncated_at is None  # nothing left out: no note
    assert not alone.refused and not pasted.refused
    assert [p.hit.chunk_id for p in pasted.passages] == [p.hit.chunk_id for p in alone.passages]


def test_replies_are_short_enough_for_a_phone(pipeline):
    for question, _ in ON_TOPIC:
        assert len(render_text(pipeline.answer(question))) < 1200


def test_held_out_labelled_questions_through_the_bots_own_path(pipeline):
    """The held-out half of tests/data/answers.jsonl (thresholds are chosen on the tune half),
    single-turn lines, through `Service.answer` as the bot calls it. Floors a little below
    what the default model measured (see the README's search quality section), so that a
    regression in ranking, refusing or red flags fails here."""
    from pathlib import Path

    from bot import answers_eval
    from bot.service import Service

    lines = answers_eval.read_labelled(Path(__file__).parent / "data" / "answers.jsonl", split="held-out", single_turn=True)
    assert len(lines) >= 120 and {"english", "off-topic", "furniture", "emergency", "zh-to-en"} <= {t for x in lines for t in x.tags}
    table = answers_eval.report(answers_eval.run(Service(pipeline), lines))
    overall, plain = table["all"], table["plain"]
    assert plain["right_article"]["share"] >= 0.9
    assert overall["right_article"]["share"] >= 0.78
    assert table["english"]["right_article"]["share"] >= 0.6  # English questions answered from Chinese articles
    assert table["zh-to-en"]["right_article"]["share"] >= 0.8  # and Chinese ones from the English article
    assert overall["refusal_precision"]["share"] >= 0.85
    assert overall["refusal_recall"]["share"] >= 0.75  # with the gate's own threshold per language and for long messages
    assert table["off-topic"]["refusal_recall"]["share"] >= 0.9
    assert table["rambling"]["right_article"]["share"] >= 0.8  # long, chatty messages are not refused for being long
    assert overall["false_alarms"]["share"] <= 0.02


@pytest.mark.parametrize(
    "question",
    ["Can massage help facial nerve palsy?", "Is massage therapy effective for facial paralysis?", "What causes facial nerve palsy?"],
)
def test_english_questions_are_answered_from_the_english_article(pipeline, question):
    answer = pipeline.answer(question)
    assert not answer.refused
    assert answer.passages[0].hit.article == "facial-palsy-massage-en.txt"
    assert answer.lang == "en"


def test_no_reply_quotes_near_identical_passages_or_three_from_one_article(pipeline):
    from common.text import near_duplicate, shingles

    for question in ["打完瘦脸针一边脸大一边脸小怎么办", "打瘦脸针后面瘫多久能恢复？"]:
        hits = pipeline.searcher.search(question, 5)
        for i, a in enumerate(hits):
            for b in hits[i + 1 :]:
                assert not near_duplicate(shingles(a.text), shingles(b.text))
        first_three = [h.article for h in hits[:3]]
        assert max(first_three.count(a) for a in first_three) <= 2


def test_an_operators_glossary_carries_english_questions_to_the_chinese_articles(tmp_path, monkeypatch, bundled_data, e5, pipeline):
    """With the example glossary (ARTICLEBOT_GLOSSARY) a re-index bridges the words CC-CEDICT
    lacks: "masseter", refused by default, is answered from the article on 咬肌. (On the
    independent English probe set, tests/data/answers_probe_en.jsonl, it gained 22 -> 25 of
    36 before passages were ordered by their evidence; with that ordering the default
    answers 25 and the glossary adds nothing, so no gain is asserted: see the README.)"""
    import shutil
    from pathlib import Path

    from corpus import DEFAULT_CORPUS
    from retrieval.build import build_index
    from retrieval.index import Index
    from retrieval.search import Searcher

    assert pipeline.answer("masseter").refused
    data = tmp_path / "glossary-data"
    shutil.copytree(bundled_data, data)  # its vectors are reused: only the lexical index changes
    monkeypatch.setenv("ARTICLEBOT_GLOSSARY", str(Path(__file__).parent.parent / "examples" / "glossary_zh_en.tsv"))
    assert build_index(DEFAULT_CORPUS, data, e5).embedded == 0
    index = Index.load(data, e5.name)
    with_glossary = dataclasses.replace(pipeline, searcher=Searcher(index, e5))
    answer = with_glossary.answer("masseter")
    assert not answer.refused and answer.passages[0].hit.article == "botox-sunken-cheeks-sagging-skin.txt"
    index.close()


@pytest.mark.parametrize("name", ["answers_probe_en.jsonl", "answers_probe_conversations.jsonl", "answers_probe_zh_en.jsonl",
                                  "answers_probe_short_followups.jsonl", "answers_probe_new_subjects.jsonl",
                                  "answers_probe_written_blind.jsonl", "answers_probe_long_messages.jsonl",
                                  "answers_probe_fragments.jsonl", "answers_probe_topic_switches.jsonl",
                                  "answers_probe_frames.jsonl"])
def test_each_probe_set_is_labelled_from_the_bundled_articles(name):
    """The probe sets beside the labelled set (for `articlebot eval-answers`): every line
    parses, names a bundled article or none, and its expected text is in that article."""
    from pathlib import Path

    from bot import answers_eval
    from common.text import normalize_space
    from corpus import DEFAULT_CORPUS

    lines = answers_eval.read_labelled(Path(__file__).parent / "data" / name)
    assert len(lines) >= 16
    for item in lines:
        if item.article is not None:
            text = normalize_space((DEFAULT_CORPUS / item.article).read_text("utf-8"))
            assert item.expect is None or normalize_space(item.expect) in text, item.line


def test_the_question_part_of_a_long_message():
    """pipeline.question_part: a long message's questions, its first sentence and its last
    ones, in order, within the limit, "…" where some were left out; a paste is read once."""
    from retrieval.pipeline import question_part

    story = [f"第{n}天我去了公司，和同事一起讨论了项目的进展情况。" for n in range(1, 80)]
    asked = "打完瘦脸针多久可以化妆？"
    part, left_out = question_part(story[0] + asked + "".join(story[1:]), 1000)
    assert left_out and len(part) <= 1000
    assert part.startswith(story[0] + asked + "…") and part.endswith(story[-1])  # no "…" after the last sentence
    assert story[40] not in part  # the middle of the story is left out
    part, left_out = question_part("".join(story), 1000)  # nothing asks: the first and the last, up to the limit
    assert left_out and 900 < len(part) <= 1000 and part.startswith(story[0] + "…") and part.endswith(story[-1])
    pasted = "我好担心……打瘦脸针会导致面瘫吗？" * 100  # the same sentences again and again: nothing left out
    assert question_part(pasted, 1000) == ("我好担心……打瘦脸针会导致面瘫吗？", False)
    english = " ".join(f"On day {n} I stayed home and felt low." for n in range(1, 90)) + " How long does botox last?"
    part, left_out = question_part(english, 1000)
    assert left_out and part.startswith("On day 1 I stayed home and felt low. …") and part.endswith("felt low. How long does botox last?")


def test_a_chatty_message_is_searched_by_the_question_it_asks():
    """pipeline.asked_part: over SEARCH_CHARS, the last sentence that asks and the others ending in
    a question mark or particle, in order; statements holding a question word (没什么大事, "grapes are
    so expensive") are left out; with nothing asked, the message's end; short messages whole."""
    from retrieval.pipeline import SEARCH_CHARS, asked_part, asks

    chatter = "我们家的猫最近也不太爱吃东西，带去宠物医院看了，没什么大事。" * 5 + "前几天去超市买菜，发现水果又涨价了。" * 5
    assert len(chatter) > SEARCH_CHARS and not asks("我们家的猫没什么大事。") and not asks("最近不怎么吃东西")
    assert asks("有没有什么办法") and asks("没什么效果吗")
    assert asked_part(chatter + "瘦脸针效果能维持多久") == "瘦脸针效果能维持多久"  # the last that asks, no mark needed
    two = asked_part(chatter + "打完会不会凹下去？" + chatter + "我想请教一下，一边脸大一边脸小应该怎么办")
    assert two == "打完会不会凹下去？我想请教一下，一边脸大一边脸小应该怎么办"
    english = "I went grocery shopping and grapes are so expensive these days. " * 5 + "can you be allergic to botox"
    assert asked_part(english) == "can you be allergic to botox"
    assert asked_part(chatter) == chatter[-SEARCH_CHARS:]  # nothing asks: its end
    assert asked_part("打瘦脸针会导致面瘫吗") == "打瘦脸针会导致面瘫吗"


def test_a_question_after_a_long_story_about_something_else_is_answered(pipeline):
    """Embedded whole, 300 characters about the cat and the shopping drowned the question (answered
    from the right article for 11 of 73 tune-half questions, bench/buried.py); searched also by what
    it asks, the better reading answers. A long story about the injection itself is read whole."""
    chatter = ("我们家的猫最近也不太爱吃东西，带去宠物医院看了，说是天气热食欲下降，没什么大事。"
               "前几天去超市买菜，发现水果又涨价了，一斤葡萄要二十多块。"
               "我闺蜜下个月结婚，我是伴娘，最近一直在忙着帮她挑婚纱和准备婚礼的事情。") * 3  # fmt: skip
    answer = pipeline.answer(chatter + "瘦脸针导致的脸颊凹陷能恢复吗")
    assert not answer.refused and answer.searched == "瘦脸针导致的脸颊凹陷能恢复吗"
    assert answer.passages[0].hit.article == "botox-sunken-cheeks-sagging-skin.txt"
    english = ("Our cat hasn't been eating much lately, the vet said it's the heat and nothing serious. "
               "My best friend is getting married next month and I've been busy with dress fittings. ") * 3  # fmt: skip
    answer = pipeline.answer(english + "Can massage help facial nerve palsy?")
    assert not answer.refused and not answer.emergency and answer.passages[0].hit.article == "facial-palsy-massage-en.txt"
    story = ("我去年冬天在一家医美机构打了瘦脸针，打完两周左右发现笑的时候右边嘴角有点歪，一开始以为是肿胀，"
             "后来去复诊，医生说是肉毒素影响到了旁边的肌肉，属于打瘦脸针后的面瘫，让我回家观察。到现在已经一个多月了，"
             "吃饭和说话都正常，就是照镜子总觉得不对称，我每天都很焦虑，也不敢跟家里人说，怕他们说我乱花钱。"
             "医生开了一些维生素让我吃，说慢慢会好，可是我在网上看到有人说打瘦脸针导致的面瘫要好几个月才能好，有的人甚至一直都没恢复。"
             "我想问问这种情况到底能不能恢复？")  # fmt: skip
    assert len(story) > 200
    answer = pipeline.answer(story)
    assert not answer.refused and answer.passages[0].hit.article == "botox-facial-palsy-recovery.txt"
