"""What a question asks for that a passage must hold (retrieval/demands.py): comparisons and
prices, read from the question; then through the real pipeline (multilingual-e5-small, the
bundled articles): refused when no quoted passage holds it, answered as before otherwise."""

from __future__ import annotations

import pytest

from retrieval import demands


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("肉毒素和玻尿酸有什么区别", ("肉毒素", "玻尿酸")),
        ("请问瘦脸针跟热玛吉哪个效果好", ("请问瘦脸针", "热玛吉")),
        ("水光针比瘦脸针安全吗", ("水光针", "瘦脸针")),
        ("difference between botox and fillers?", ("botox", "fillers")),
        ("Botox vs Xeomin, which lasts longer?", ("Botox", "Xeomin")),
        ("is a facelift safer than botox?", ("facelift", "botox")),
        ("which is cheaper, botox or a facelift?", ("botox", "facelift")),
    ],
)
def test_a_comparison_names_the_two_things_compared(question, sides):
    assert demands.compared(question) == sides


@pytest.mark.parametrize(
    "question",
    [
        "打瘦脸针和不打有什么区别",  # one thing, done or not
        "打完以后比以前好多了",  # a statement, not a question
        "瘦脸针会导致面瘫吗",
        "are my results better than before?",  # "before" names nothing
        "how long does botox last",
    ],
)
def test_other_questions_compare_nothing(question):
    assert demands.compared(question) is None


def test_a_price_is_asked_only_by_a_question_for_one():
    for question in ["打一针瘦脸针要多少钱", "瘦脸针的价格贵吗", "想了解一下瘦脸针的费用", "收费标准是怎样的？", "哪里打瘦脸针比较便宜啊",
                     "how much does botox cost?", "is botox expensive?"]:  # fmt: skip
        assert demands.asks_price(question), question
    for question in ["上次在小诊所打的挺便宜，现在脸有点歪", "花了不少费用打的瘦脸针，现在脸有点歪，能恢复吗",
                     "how much botox is too much?", "瘦脸针效果能维持多久"]:  # fmt: skip
        assert not demands.asks_price(question), question
    assert demands.states_price("一次大约2000元") and demands.states_price("about $400 a session")
    assert not demands.states_price("效果一般维持3-6个月") and not demands.states_price("注射后24小时内避免化妆")
    for priced in ("一般在一千元到五千元之间", "大概几百块钱", "两千多元一次", "一万元左右"):  # in Chinese numerals
        assert demands.states_price(priced), priced
    for unpriced in ("摸到一块硬块", "一元化管理", "多元化的治疗", "十几天后消肿"):
        assert not demands.states_price(unpriced), unpriced


def test_a_provider_near_the_user_is_asked_only_with_nearness_to_the_user():
    for question in ["我家附近哪里能打瘦脸针", "想找个离我家近点的医美机构", "本地有没有靠谱的医生能打肉毒",
                     "哪家诊所在我附近", "any good injectors near me?", "where can I get jaw botox in my area",
                     "can you recommend a local clinic for masseter botox"]:  # fmt: skip
        assert demands.asks_local(question), question
    for question in ["肉毒素会扩散到附近的肌肉吗", "打完针附近有点肿正常吗", "针眼附近有点肿要找医生吗", "针眼附近有点肿 要去医院吗",
                     "打瘦脸针选哪家医院好", "the skin nearby is swollen, should I see a doctor?",
                     "there is a small bump around here, should a doctor check it?",
                     "can botox spread to nearby muscles?", "where does the botox go after it wears off",
                     "my sister is a doctor and says botox is fine"]:  # fmt: skip
        assert not demands.asks_local(question), question


# --- through the real pipeline -----------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "瘦脸针和热玛吉有什么区别",  # the articles never name 热玛吉
        "肉毒素比埋线提升效果好吗",
        "is botox better than a thread lift for jowls?",
        "打完瘦脸针要是脸凹了，补一次玻尿酸大概得花多少钱",
        "what would masseter botox cost me?",
        "我家附近哪里能打瘦脸针",
        "where can I get masseter botox near me?",
    ],
)
def test_a_question_on_the_topic_asking_for_what_no_passage_holds_is_refused(pipeline, question):
    answer = pipeline.answer(question)
    assert answer.refused and not answer.passages and answer.hits  # found on the topic, nothing quoted


def test_the_same_topics_asked_plainly_are_still_answered(pipeline):
    # the counterparts of the refused questions: what the articles do say
    for question in ["瘦脸针打完脸凹了可以打玻尿酸吗", "打瘦脸针会导致面瘫吗", "Can botox cause facial palsy?"]:
        answer = pipeline.answer(question)
        assert not answer.refused and answer.passages, question


def test_a_comparison_of_things_one_passage_names_is_answered(pipeline):
    # the uneven-face article names Botox and Dysport in one sentence; its passage holds both sides
    answer = pipeline.answer("瘦脸针用Botox和Dysport有什么区别")
    assert demands.compared("瘦脸针用Botox和Dysport有什么区别") is not None
    assert not answer.refused and any("Dysport" in p.hit.text for p in answer.passages)


def test_a_follow_up_asking_the_price_is_refused_with_its_topic_kept(pipeline):
    first = pipeline.answer("瘦脸针的效果能维持多久")
    assert not first.refused
    follow = pipeline.answer("那做一次要多少钱", context=first.searched)
    assert follow.refused and "瘦脸针" in follow.searched  # read with the conversation, and refused


def test_the_reply_says_why_and_ends_with_the_disclaimer(pipeline):
    from presentation.plain import render_text
    from presentation.texts import DISCLAIMER, NOT_COVERED, NOT_COVERED_BECAUSE

    for question, kind, lang in [("打瘦脸针一般要花多少钱", demands.PRICE, "zh"), ("瘦脸针和热玛吉哪个好", demands.COMPARISON, "zh"),
                                 ("how much would jaw botox cost me?", demands.PRICE, "en"),
                                 ("附近哪家医院打瘦脸针技术好", demands.LOCAL, "zh"),
                                 ("any clinics near me that do jaw botox?", demands.LOCAL, "en")]:  # fmt: skip
        answer = pipeline.answer(question)
        assert answer.refused and answer.unmet == kind, question
        reply = render_text(answer)
        assert NOT_COVERED_BECAUSE[kind][lang] in reply and NOT_COVERED[lang] not in reply, reply
        assert reply.rstrip().endswith(DISCLAIMER[lang]), reply
    plain = pipeline.answer("红烧肉怎么做")  # refused for want of any passage: the general words
    assert plain.refused and not plain.unmet and NOT_COVERED["zh"] in render_text(plain)
