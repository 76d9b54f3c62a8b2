"""Answers that answer: the sentence that answers (sentence vectors), follow-ups in a
conversation, `chat --json`, and "more" that stops. Real model, FAISS and SQLite over the
bundled corpus (the `pipeline` fixture) unless a test says otherwise."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bot.answers_eval import read_labelled
from bot.cli import main
from bot.conversations import Conversations
from bot.service import Service
from convlog import ConversationLog
from presentation.plain import passage_text, render_text
from presentation.telegram_html import passage_html
from presentation.texts import (
    DISCLAIMER,
    EMPTY_QUESTION,
    NO_MORE,
    NOT_COVERED,
    SOCIAL,
    to_traditional,
)
from retrieval import followup
from retrieval.index import Index
from retrieval.lexical import names_nothing
from retrieval.passages import choose, excerpt, more_candidates
from retrieval.records import Hit, Passage
from retrieval.sentences import answers_nothing, non_answers, units

DATA = Path(__file__).parent / "data"

PALSY = "botox-facial-palsy-recovery.txt"


def test_a_follow_up_is_answered_with_the_previous_question(pipeline):
    service = Service(pipeline)
    first = service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation="a").answer
    assert not first.refused
    follow = service.answer("那要多久能恢复", channel="test", conversation="a").answer
    assert not follow.refused and follow.passages[0].hit.article == PALSY
    assert follow.question == "那要多久能恢复"
    assert follow.searched == "打瘦脸针会导致面瘫吗 那要多久能恢复"
    # the same message in another conversation has nothing to lean on: refused, searched as sent
    alone = service.answer("那要多久能恢复", channel="test", conversation="b").answer
    assert alone.refused and alone.searched == "那要多久能恢复"


def test_a_new_topic_or_a_thank_you_starts_afresh(pipeline):
    service = Service(pipeline)
    service.answer("长期打肉毒素有什么副作用？", channel="test", conversation="c")
    new_topic = service.answer("红烧肉怎么做？", channel="test", conversation="c").answer
    assert new_topic.refused and new_topic.searched == "红烧肉怎么做？"
    service.answer("长期打肉毒素有什么副作用？", channel="test", conversation="c")
    thanks = service.answer("好的谢谢！", channel="test", conversation="c").answer
    assert thanks.refused and thanks.social == followup.THANKS and thanks.searched == "" and thanks.hits == []  # not the side effects again
    assert render_text(thanks).startswith(SOCIAL["thanks"]["zh"]) and NOT_COVERED["zh"] not in render_text(thanks)
    # a pleasantry is not a new topic either: the conversation goes on after it
    after = service.answer("那严重吗", channel="test", conversation="c").answer
    assert after.searched == "长期打肉毒素有什么副作用？ 那严重吗"


def test_a_pleasantry_gets_a_reply_in_kind_in_the_writers_language(pipeline):
    kinds = {"你好": "greeting", "医生您好": "greeting", "hi there": "greeting", "谢谢": "thanks", "thanks a lot!": "thanks",
             "謝謝": "thanks", "好的": "other", "ok": "other", "拜拜": "other"}  # fmt: skip
    for message, kind in kinds.items():
        answer = pipeline.answer(message)
        assert answer.social == kind and answer.refused and not answer.hits, message
        lang = "en" if message.isascii() else "zh"
        expected = SOCIAL[kind][lang] if message != "謝謝" else to_traditional(SOCIAL[kind]["zh"])
        assert render_text(answer).startswith(expected), message
    # a question with a greeting around it is a question
    assert pipeline.answer("你好，打瘦脸针会导致面瘫吗").social == "" and not pipeline.answer("你好，打瘦脸针会导致面瘫吗").refused


def test_more_typed_goes_on_where_the_answer_stopped_and_says_when_nothing_is_left(pipeline):
    """"还有呢" / "more?" typed does what the "more" button does: the question's next relevant
    passages, never one already quoted, then that there are no more (not "not covered")."""
    service = Service(pipeline)
    first = service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation="m").answer
    quoted = {p.hit.chunk_id for p in first.passages}
    pages = []
    for message in ["还有呢", "好的，还有别的吗？", "更多", "还有吗", "继续"] * 4:  # at most 20 pages
        page = service.answer(message, channel="test", conversation="m").answer
        assert page.more and page.searched == "打瘦脸针会导致面瘫吗" and page.question == message
        assert not quoted & {p.hit.chunk_id for p in page.passages}, message
        quoted |= {p.hit.chunk_id for p in page.passages}
        pages.append(page)
        if page.refused:
            break
    assert not pages[0].refused and render_text(pages[0]).startswith("文章中是这样说的")
    assert pages[-1].refused and render_text(pages[-1]) == f"{NO_MORE['zh']}\n\n{DISCLAIMER['zh']}"
    assert len(pages) < 20  # relevance dropped before twenty pages
    # in traditional characters too (read as the pipeline reads any message: in simplified ones)
    service.answer("打瘦臉針會導致面癱嗎", channel="test", conversation="trad")
    assert service.answer("還有別的嗎", channel="test", conversation="trad").answer.more
    # typed in English after a conversation in Chinese, the reply is in the conversation's language, as
    # the button's is; after an English question it is English, and says the quotes are in Chinese
    service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation="n")
    page = service.answer("more please", channel="test", conversation="n").answer
    assert page.more and page.lang == "zh" and render_text(page).startswith("文章中是这样说的")
    service.answer("will my face go back to normal after botox palsy?", channel="test", conversation="n2")
    page = service.answer("more please", channel="test", conversation="n2").answer
    assert page.more and page.lang == "en" and render_text(page).startswith("Here is what the articles say (they are written in Chinese")
    # naming what it wants, it is an ordinary message; "more" after it skips what either answer quoted
    before = service.answer("打完瘦脸针面瘫了怎么办", channel="test", conversation="p").answer
    follow = service.answer("还有什么办法吗", channel="test", conversation="p").answer
    assert not follow.more and follow.searched == "打完瘦脸针面瘫了怎么办 还有什么办法吗"
    remembered = set(service.conversations.last("p").shown)  # what "more" skips: both answers' passages
    assert {p.hit.chunk_id for p in before.passages} - {p.hit.chunk_id for p in follow.passages}  # they differ
    assert remembered == {p.hit.chunk_id for p in before.passages + follow.passages}
    page = service.answer("更多", channel="test", conversation="p").answer
    assert page.more and page.passages
    assert not {p.hit.chunk_id for p in page.passages} & {p.hit.chunk_id for p in before.passages + follow.passages}
    # with no question before it, it asks for one; after a refusal there is no more; never searched as "红烧肉 还有呢"
    first = service.answer("还有呢", channel="test", conversation="o").answer
    assert first.more and first.refused and render_text(first).startswith(EMPTY_QUESTION["zh"])
    service.answer("红烧肉怎么做？", channel="test", conversation="q")
    after_refusal = service.answer("还有呢", channel="test", conversation="q").answer
    assert after_refusal.refused and after_refusal.searched == "红烧肉怎么做？" and render_text(after_refusal).startswith(NO_MORE["zh"])
    # after an emergency: its notice again, and nothing quoted
    emergency = service.answer("打了肉毒素三天，现在喝水呛咳，吞咽困难", channel="test", conversation="r").answer
    assert emergency.emergency
    again = service.answer("还有呢", channel="test", conversation="r").answer
    assert again.emergency == emergency.emergency and again.refused and not again.passages
    assert render_text(again).startswith(emergency.safety.notices["zh"])


def test_asking_for_more_is_the_whole_message():
    for message in ["还有呢", "还有吗？", "好的 还有吗", "谢谢，还有别的吗", "更多", "继续", "详细点", "more", "More?",
                    "ok, more please", "tell me more", "anything else?", "thanks! what else", "go on"]:  # fmt: skip
        assert followup.asks_for_more(message), message
    for message in ["还有什么办法吗", "还有呢 还有啥副作用", "还能恢复吗", "more side effects?", "what about kids",
                    "ok", "谢谢", "more 瘦脸针"]:  # fmt: skip
        assert not followup.asks_for_more(message), message


def test_a_message_without_words_is_answered_in_the_conversations_language(pipeline):
    """"👍" after an English answer is answered in English; "ok" after a Chinese one in Chinese;
    a thumbs-up or folded hands are a pleasantry, not an empty question."""
    service = Service(pipeline)
    service.answer("Can botox cause facial palsy?", channel="test", conversation="t")
    thumbs = service.answer("👍", channel="test", conversation="t").answer
    assert thumbs.social == followup.OTHER and thumbs.lang == "en" and render_text(thumbs).startswith(SOCIAL["other"]["en"])
    service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation="u")
    ok = service.answer("ok", channel="test", conversation="u").answer
    assert ok.social == followup.OTHER and render_text(ok).startswith(SOCIAL["other"]["zh"])
    thanks = service.answer("🙏🏻", channel="test", conversation="u").answer
    assert thanks.social == followup.THANKS and render_text(thanks).startswith(SOCIAL["thanks"]["zh"])
    thanks = service.answer("🙏 谢谢", channel="test", conversation="u").answer  # an emoji clause is no question either
    assert thanks.social == followup.THANKS and thanks.searched == ""
    assert service.answer("那要多久能恢复", channel="test", conversation="u").answer.searched == "打瘦脸针会导致面瘫吗 那要多久能恢复"
    blank = service.answer("???", channel="test", conversation="t").answer  # no words and no pleasantry: asks to type one
    assert blank.empty and blank.lang == "en" and render_text(blank).startswith(EMPTY_QUESTION["en"])
    assert service.answer("😱", channel="test", conversation="t").answer.empty
    # with no conversation, the channel's idea of the user's language, else Chinese
    assert service.answer("👍", channel="test", conversation="v", lang_hint="en").answer.lang == "en"
    assert service.answer("ok", channel="test", conversation="w").answer.lang == "en"  # its own words tell


def test_pleasantries_and_asides_around_a_new_topic_are_not_searched(pipeline):
    service = Service(pipeline)
    service.answer("打瘦脸针面瘫会恢复吗", channel="test", conversation="e")
    # thanks, then "by the way" and a new topic: the new topic alone is searched, and refused
    new_topic = service.answer("好的谢谢。对了，红烧排骨怎么做", channel="test", conversation="e").answer
    assert new_topic.refused and new_topic.searched == "红烧排骨怎么做"
    assert new_topic.question == "好的谢谢。对了，红烧排骨怎么做"  # what was sent is kept as sent
    asked = service.answer("姐妹们，长期打肉毒素有什么副作用？", channel="test", conversation="f").answer
    assert not asked.refused and asked.searched == "长期打肉毒素有什么副作用？"
    # the doctor addressed, without punctuation, is no word of the question: 医生 (which the articles
    # use) does not glue a new topic to the conversation
    service.answer("瘦脸针打完脸颊凹陷了", channel="test", conversation="g")
    addressed = service.answer("好的 医生您知道头疼怎么办吗", channel="test", conversation="g").answer
    assert addressed.refused and addressed.searched == "您知道头疼怎么办吗"


def test_asides_are_whole_clauses_or_the_people_addressed_at_the_ends():
    cases = {
        "好的谢谢。对了，红烧排骨怎么做": "红烧排骨怎么做",
        "医生你好，打瘦脸针疼吗": "打瘦脸针疼吗",
        "喂奶期间可以打瘦脸针吗姐妹们": "喂奶期间可以打瘦脸针吗",
        "姐妹们 我打了快两年肉毒了 听说打多了会没效果": "我打了快两年肉毒了 听说打多了会没效果",
        "hi doctor, thanks! can botox spread?": "can botox spread?",
        "大夫您看我这种情况还能打瘦脸针吗": "您看我这种情况还能打瘦脸针吗",
        # nothing else to ask: kept whole (it is answered as a pleasantry)
        "谢谢医生": "谢谢医生",
        "thanks doc": "thanks doc",
        # the same words inside a clause that asks something are part of it
        "是去找医生补一针还是等它自己恢复？": "是去找医生补一针还是等它自己恢复？",
        "问一下大家都是多久补打一次": "问一下大家都是多久补打一次",
        "打瘦脸针要告诉各位家人们吗": "打瘦脸针要告诉各位家人们吗",
        "医生说我这种情况要等三个月": "医生说我这种情况要等三个月",  # what a doctor said: no address
    }
    for message, searched in cases.items():
        assert followup.without_asides(message) == searched, message


def test_a_question_word_alone_is_read_with_the_conversation(pipeline):
    """"一般要多久" names nothing the articles could match on its own (its only terms are
    question words and a lone character): it asks about the conversation's topic."""
    service = Service(pipeline)
    service.answer("瘦脸针打完脸颊凹陷了", channel="test", conversation="q")
    follow = service.answer("一般要多久", channel="test", conversation="q").answer
    assert not follow.refused and follow.searched == "瘦脸针打完脸颊凹陷了 一般要多久"
    assert follow.passages[0].hit.article == "botox-sunken-cheeks-sagging-skin.txt"
    for message in ["一般要多久", "那怎么办呢", "why not", "多久？"]:
        assert names_nothing(message), message
    for message in ["红烧肉怎么做", "可以按摩吗", "how long does botox last", "哺乳期呢"]:
        assert not names_nothing(message), message


def test_a_refused_follow_up_keeps_the_conversations_topic(pipeline):
    """A follow-up nothing answers is still part of the conversation: the next message is
    read with the topic, not with the refused remark alone."""
    service = Service(pipeline)
    service.answer("打瘦脸针后脸歪了", channel="test", conversation="r")
    remark = service.answer("那我跟我老公商量一下", channel="test", conversation="r").answer
    assert remark.refused and remark.searched == "打瘦脸针后脸歪了 那我跟我老公商量一下"
    assert remark.question == "那我跟我老公商量一下"
    after = service.answer("还能恢复吗", channel="test", conversation="r").answer
    assert not after.refused and after.searched.startswith("打瘦脸针后脸歪了")



def test_a_remark_about_when_is_read_with_the_conversation(pipeline):
    """"我是三个月前打的 打了两次" tells when and how often, and names nothing of its own: it
    is part of the conversation, and the question after it keeps the topic. A remark that
    names something else ("我最近老是失眠") is a new topic: refused, searched as sent."""
    service = Service(pipeline)
    service.answer("瘦脸针打完脸颊有点凹", channel="test", conversation="t")
    remark = service.answer("我是三个月前打的 打了两次", channel="test", conversation="t").answer
    assert remark.searched == "瘦脸针打完脸颊有点凹 我是三个月前打的 打了两次"
    after = service.answer("还会好吗", channel="test", conversation="t").answer
    assert not after.refused and after.searched.startswith("瘦脸针打完脸颊有点凹")
    assert after.passages[0].hit.article == "botox-sunken-cheeks-sagging-skin.txt"
    service.answer("打瘦脸针后脸歪了", channel="test", conversation="u")
    other = service.answer("我最近老是失眠", channel="test", conversation="u").answer
    assert other.refused and other.searched == "我最近老是失眠"
    for message in ["我是上个月打的", "我才打了一个礼拜", "上周五打的", "打了半年了"]:
        assert names_nothing(message), message
    for message in ["我最近老是失眠", "月经期间能打吗", "打完第二天脸肿", "周围肌肉会萎缩吗"]:
        assert not names_nothing(message), message

def test_the_conversation_probe_holds_conversations():
    """tests/data/answers_probe_conversations.jsonl (conversations written after the labelled
    set, for `articlebot eval-answers`; test_answers checks its labels against the articles):
    every line has two turns or more, and some must be refused."""
    from pathlib import Path

    from bot import answers_eval

    lines = answers_eval.read_labelled(Path(__file__).parent / "data" / "answers_probe_conversations.jsonl")
    assert len(lines) >= 40 and all(len(item.turns) >= 2 for item in lines)
    assert sum(item.article is None for item in lines) >= 10


def test_an_emergency_is_flagged_in_a_conversation_and_repeated_for_its_follow_up_only(pipeline):
    service = Service(pipeline)
    service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation="d")
    emergency = service.answer("我妈突然嘴歪了，说话也含糊不清", channel="test", conversation="d").answer
    assert emergency.emergency == "stroke"
    after = service.answer("那要多久能恢复", channel="test", conversation="d").answer
    assert after.emergency == "stroke" and not after.passages  # its follow-up: the notice again, no "数天到数周"
    new_topic = service.answer("红烧排骨怎么做", channel="test", conversation="d").answer
    assert new_topic.emergency is None  # a new topic is read on its own


def test_a_reply_uses_the_question_the_answer_was_for(pipeline):
    """A group member replies to an answer given to someone else: that answer's question is the context."""
    service = Service(pipeline)
    asked = service.answer("瘦脸针打完脸颊凹陷了", channel="test", conversation=("g", 1)).answer
    service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation=("g", 1))
    reply = service.answer("还能恢复吗", channel="test", conversation=("g", 2), context=asked.searched).answer
    assert not reply.refused and reply.passages[0].hit.article == "botox-sunken-cheeks-sagging-skin.txt"


def test_context_expires_after_the_window():
    now = [0.0]
    conversations = Conversations(window=600, clock=lambda: now[0])
    conversations.remember("x", "打瘦脸针会导致面瘫吗")
    now[0] = 599
    assert conversations.context("x") == "打瘦脸针会导致面瘫吗"
    assert conversations.context("y") is None and conversations.context(None) is None
    now[0] = 601
    assert conversations.context("x") is None


def test_a_question_asked_again_of_something_the_articles_never_name_is_a_new_topic(pipeline):
    """"那骨折要多久恢复" after "面瘫要多久恢复" repeats the question's wording about another
    subject, one the corpus never names: it is searched alone (and refused), not answered from
    the palsy passages. Re-asked of something the articles do name, it is still read with the
    conversation; so is a message that repeats little of it."""
    service = Service(pipeline)
    service.answer("打瘦脸针后面瘫要多久恢复", channel="test", conversation="s")
    other = service.answer("那骨折要多久恢复呢", channel="test", conversation="s").answer
    assert other.refused and other.searched == "那骨折要多久恢复呢"
    assert not render_text(other).count("📄")  # nothing quoted
    service.answer("长期打肉毒素有什么副作用", channel="test", conversation="t")
    other = service.answer("还有长期喝咖啡有什么副作用", channel="test", conversation="t").answer
    assert other.refused and other.searched == "还有长期喝咖啡有什么副作用"
    service.answer("打完瘦脸针多久能化妆", channel="test", conversation="u")
    same = service.answer("那多久能洗脸", channel="test", conversation="u").answer
    assert same.searched == "打完瘦脸针多久能化妆 那多久能洗脸"


def test_a_long_story_about_something_else_is_not_answered_from_the_previous_topic(pipeline):
    """A long message nothing answers on its own is not read with the conversation, even when
    it uses a word of the articles (恢复, 医生): it is a new topic, refused as sent."""
    service = Service(pipeline)
    assert not service.answer("瘦脸针后面瘫要多久恢复", channel="test", conversation="w").answer.refused
    message = "我老公上个月做了阑尾炎手术，刀口现在还有点红，他想下周就去打篮球，医生没说具体多久能运动，一般要恢复多久啊"
    other = service.answer(message, channel="test", conversation="w").answer
    assert other.refused and other.searched == message


def test_other_subject_reads_the_wording_repeated():
    """followup.other_subject on its own, with a small vocabulary standing for the corpus."""
    known = {"面瘫", "恢复", "瘦脸", "脸针", "化妆", "肉毒", "毒素", "副作", "作用", "长期", "按摩"}
    assert followup.other_subject("面瘫要多久恢复", "那骨折要多久恢复?", known) == ["骨折"]
    assert followup.other_subject("长期打肉毒素有什么副作用", "还有长期吃避孕药有什么副作用", known) == ["吃避", "避孕", "孕药"]
    assert followup.other_subject("面瘫要多久恢复", "那骨折要多久恢复?", known | {"骨折"}) == []  # the articles name it
    assert followup.other_subject("打完瘦脸针多久能化妆", "那敷面膜呢", known) == []  # repeats nothing
    assert followup.other_subject("打完瘦脸针多久能化妆", "那去蹦迪多久能化妆", known) == ["去蹦", "蹦迪"]
    assert followup.other_subject("打瘦脸针后面瘫能按摩吗", "我闺蜜也这样 能按摩吗", known) == []  # refers back
    assert followup.other_subject("打瘦脸针会导致面瘫吗", "那我还能去健身房吗 每天都去", known) == []  # no wording of it
    assert followup.other_subject("打完瘦脸针多久能化妆", "那拔牙怎么办", known) == []  # question words are no wording
    assert followup.other_subject("Can botox cause palsy?", "and can flu shots cause palsy?", known) == []  # Chinese only
    assert followup.other_subject("面瘫要多久恢复", "上个月打的 要多久恢复", known) == []  # a time is no subject


def test_follow_up_signals():
    for message in ["那要多久能恢复", "哺乳期呢", "这种情况该怎么办", "will they fill back in?", "What about swelling?",
                    "为什么？", "Why?", "how come"]:  # a question word alone
        assert followup.leans_on_context(message), message
    for message in ["打瘦脸针会导致面瘫吗", "How long does botox last?", "红烧肉怎么做", "为什么打完脸会歪", "why does botox wear off"]:
        assert not followup.leans_on_context(message), message
    for message in ["谢谢", "好的谢谢！", "OK thanks", "Got it, thank you so much"]:
        assert followup.is_social(message), message
    for message in ["谢谢医生，那还能恢复吗", "严重吗", "thanks, but is it safe?"]:
        assert not followup.is_social(message), message


def test_a_message_naming_no_subject_of_its_own():
    # what is asked of a subject (a cause, a way, the risk, how long, a recovery), times and counts
    for message in ["是啥原因引起的", "需要注意什么", "一般要多久", "那要多久能恢复", "有什么办法吗", "严重吗",
                    "any treatment?", "how long does recovery take", "what's the cause?"]:
        assert followup.names_no_subject(message), message
    # a subject named, however short: a new topic can be asked this way
    for message in ["可以按摩吗", "瘦脸针效果能维持多久", "红烧肉怎么做", "我最近老是失眠", "胶原蛋白有用吗",
                    "my back hurts", "any side effects of filler?", "does acupuncture work"]:
        assert not followup.names_no_subject(message), message


def test_a_follow_up_naming_no_subject_is_read_with_the_conversation_though_its_words_find_a_passage(pipeline):
    # alone, "what causes it" finds the English massage article's causes of facial palsy; after a
    # question on botox and palsy, it asks what causes that
    message = "是啥原因引起的"
    alone = pipeline.answer(message)
    assert not alone.refused and alone.passages[0].hit.article == "facial-palsy-massage-en.txt"
    service = Service(pipeline)
    service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation="cause")
    follow = service.answer(message, channel="test", conversation="cause").answer
    assert follow.searched == "打瘦脸针会导致面瘫吗 是啥原因引起的"
    assert not follow.refused and follow.passages[0].hit.article == PALSY
    assert any("扩散到其他面部肌肉" in p.excerpt for p in follow.passages)
    # a subject of its own, answered alone, stays a new topic
    service.answer("打瘦脸针会导致面瘫吗", channel="test", conversation="new")
    new = service.answer("瘦脸针效果能维持多久", channel="test", conversation="new").answer
    assert new.searched == "瘦脸针效果能维持多久"


def test_the_log_keeps_the_message_and_the_question_as_searched(pipeline, tmp_path):
    log = ConversationLog(f"sqlite:///{tmp_path / 'log.db'}")
    service = Service(pipeline, log)
    service.respond("打瘦脸针会导致面瘫吗", lambda a: None, channel="test", conversation="e")
    service.respond("那要多久能恢复", lambda a: None, channel="test", conversation="e")
    service.respond("醫生你好，紅燒肉怎麼做？", lambda a: None, channel="test", conversation="f")  # searched in another form, alone
    service.close()
    rows = sqlite3.connect(tmp_path / "log.db").execute("SELECT question, searched, follow_up FROM exchanges ORDER BY ts, rowid").fetchall()
    assert rows == [("打瘦脸针会导致面瘫吗", None, 0), ("那要多久能恢复", "打瘦脸针会导致面瘫吗 那要多久能恢复", 1),
                    ("醫生你好，紅燒肉怎麼做？", "红烧肉怎么做？", 0)]


def test_the_log_lists_a_burst_of_messages_in_the_order_they_came(pipeline, tmp_path):
    from convlog.review import Filters, list_exchanges

    log = ConversationLog(f"sqlite:///{tmp_path / 'log.db'}")
    service = Service(pipeline, log)
    # pleasantries and empty messages are answered in well under a millisecond, all within one second
    messages = ["打瘦脸针会导致面瘫吗", "那要多久能恢复", "谢谢", "", "你好", "ok", "🙂", "谢谢", "好的"]
    for message in messages:
        service.respond(message, lambda a: None, channel="test", conversation="burst")
    rows = list_exchanges(log.engine, Filters(), limit=20)
    service.close()
    assert [r["question"] for r in rows] == messages[::-1]  # newest first, none out of turn
    assert len({r["ts"] for r in rows}) == len(messages)


def test_chat_json_keeps_the_conversation(bundled_data, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_DATA", str(bundled_data))
    result = CliRunner().invoke(main, ["chat", "--json"], input="打瘦脸针会导致面瘫吗\n那要多久能恢复\nexit\n瘦脸针效果能维持多久\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 2  # "exit" ends the session, as at the chat's prompt: nothing after it is read
    ask = json.loads(CliRunner().invoke(main, ["ask", "--json", "打瘦脸针会导致面瘫吗"]).output)
    assert all(set(line) == set(ask) for line in lines)
    assert lines[1]["question"] == "那要多久能恢复" and lines[1]["searched"] == "打瘦脸针会导致面瘫吗 那要多久能恢复"
    assert not lines[1]["refused"] and "打瘦脸针面瘫会恢复吗" in lines[1]["reply"]
    assert lines[0]["reply"].endswith(DISCLAIMER["zh"]) and lines[1]["reply"].endswith(DISCLAIMER["zh"])


def test_the_answering_sentence_is_chosen_by_the_index_sentence_vectors(bundled_data, pipeline):
    index = Index.load(bundled_data)
    assert index.meta.sentences == index.meta.model
    (row_id,) = [r for (r,) in sqlite3.connect(index.folder / "chunks.sqlite").execute("SELECT id FROM chunks LIMIT 1")]
    stored = index.store.sentence_vectors([row_id])[row_id]
    assert stored.shape == (len(units(index.store.get([row_id])[row_id].text)), 384)
    index.close()
    answer = pipeline.answer("打完瘦脸针多久可以化妆")
    assert "24小时" in answer.passages[0].focus
    assert answer.passages[0].focus in render_text(answer)


def _hit(text: str, scores=None, score: float = 0.1, chunk: str = "c") -> Hit:
    return Hit(chunk, "a.txt", "标题", None, None, text, score, sentence_scores=scores)


def test_the_focus_sentence_is_never_cut_and_bold_in_telegram():
    long_sentence = "注射后" + "要注意" * 100 + "。"
    text = "第一句很短。" + long_sentence + "最后一句<b>&。"
    body, focus = excerpt(text, "问题", 50, scores=[0.1, 0.9, 0.2])
    assert focus == long_sentence and long_sentence in body  # longer than the limit, kept whole
    html = passage_html(Passage(_hit(text), *excerpt(text, "问题", 500, scores=[0.1, 0.2, 0.9])))
    assert "<b>最后一句&lt;b&gt;&amp;。</b>" in html  # escaped inside the bold
    plain = passage_text(Passage(_hit(text), *excerpt(text, "问题", 500, scores=[0.1, 0.2, 0.9])))
    assert "最后一句<b>&。" in plain and plain.count("<b>") == 1  # the terminal shows it as it is, unmarked


def test_questions_and_introductions_answer_nothing():
    assert answers_nothing("那么,打瘦脸针后面瘫是否会恢复呢?")
    assert answers_nothing("本文将深入分析这一问题,从医学观点、恢复时间等多个方面进行探讨。")
    assert answers_nothing("In this article we will look at the causes.")
    assert not answers_nothing("大约70%~85%的人在3个月内完全恢复。")


def test_headings_and_lead_ins_inside_a_passage_answer_nothing():
    text = ("多数情况下,面瘫是暂时性的。\n恢复过程中的注意事项\n4、打瘦脸针后一边脸大一边脸小怎么办\n"
            "如果出现这种情况,建议采取以下步骤:\n1. 保持冷静。\nGood sleep helps\n避免按摩,以免加重症状。")  # fmt: skip
    assert non_answers(units(text)) == [False, True, True, True, False, True, False]
    assert non_answers(units("恢复过程中的注意事项")) == [False]  # a passage of one line is what there is to quote
    assert non_answers(units("面瘫恢复过程中要注意多休息、必要时进行面部表情锻炼如轻微的皱眉和微笑等等")) == [False]


def test_a_heading_is_never_quoted_as_the_answer(pipeline):
    """Over the tune half's questions, the sentence shown in bold is never a heading or a
    lead-in of its passage ("医生的专业背景", "建议采取以下步骤:") while it has another sentence."""
    lines = read_labelled(DATA / "answers.jsonl", split="tune", single_turn=True)
    focused = 0
    for item in lines:
        for passage in pipeline.answer(item.turns[0]).passages:
            found = units(passage.hit.text)
            flags = dict(zip([s for _, s in found], non_answers(found)))
            assert not flags[passage.focus], (item.turns[0], passage.focus)
            focused += 1
    assert focused > 80


def test_more_stops_when_relevance_drops():
    hits = [_hit("a", score=0.15, chunk="1"), _hit("b", score=0.12, chunk="2"), _hit("c", score=0.08, chunk="3"), _hit("d", score=0.06, chunk="4")]
    assert [h.chunk_id for h in more_candidates(hits, {"1"}, 0.05, {"a.txt"})] == ["2"]  # 0.08 is too far below 0.15
    assert more_candidates(hits, {"1", "2"}, 0.05, {"a.txt"}) == []


def test_asking_whether_it_is_all_right_names_no_subject_of_its_own():
    # the "it" of "躺一下应该没事吧" is what the conversation was about: read with it (a short
    # message the articles do not answer alone); a message naming its own subject is not this
    for message in ("我在家躺一下应该没事吧", "要紧吗？", "应该没关系吧", "多喝点水就没事了吧", "will I be ok?", "Is that safe"):
        assert followup.asks_if_alright(message), message
    for message in ("没事的时候可以按摩吗", "现在没事了", "红烧肉怎么做", "is it normal to feel tired", "how long does it last"):
        assert not followup.asks_if_alright(message), message


def test_a_follow_up_does_not_quote_again_what_the_conversation_was_shown(pipeline):
    service = Service(pipeline)
    first = service.answer("打完瘦脸针会不会面瘫啊", channel="test", conversation="r").answer
    follow = service.answer("一般多长时间能好", channel="test", conversation="r").answer
    assert not first.refused and not follow.refused and follow.passages[0].hit.article == PALSY
    shown = {p.focus for p in first.passages}
    assert not shown & {p.focus for p in follow.passages}  # the same sentence again answers nothing new
    assert "70%~85%的人在3个月内完全恢复" in render_text(follow)
    # what the conversation was shown is remembered, in order
    assert service.conversations.last("r").seen[: len(first.passages)] == tuple(p.focus for p in first.passages)


def _quoted(chunk_id: str, text: str, answering: float) -> Hit:
    return Hit(chunk_id, "a.txt", "A", None, None, text, 0.5, evidence=0.5, sentence_scores=[answering])


def test_a_passage_already_shown_is_quoted_again_only_when_it_still_answers_best():
    shown = _quoted("c1", "注射后面瘫多为暂时性。", 0.4)
    new = _quoted("c2", "大多数患者在数天到数周内恢复。", 0.6)
    # one article's two passages: the one whose sentence answers best first (passages.choose)
    assert [p.hit.chunk_id for p in choose("多久能好", [shown, new], "zh", 0.1).passages] == ["c2", "c1"]
    assert [p.hit.chunk_id for p in choose("多久能好", [shown, new], "zh", 0.1, seen={"注射后面瘫多为暂时性。"}).passages] == ["c2"]
    better = _quoted("c1", "注射后面瘫多为暂时性。", 0.7)  # still the best answer to what is asked now: quoted again
    assert [p.hit.chunk_id for p in choose("还会好吗", [better, new], "zh", 0.1, seen={"注射后面瘫多为暂时性。"}).passages] == ["c1", "c2"]
    alone = choose("还会好吗", [shown], "zh", 0.1, seen={"注射后面瘫多为暂时性。"})  # nothing else qualifies
    assert [p.hit.chunk_id for p in alone.passages] == ["c1"]
