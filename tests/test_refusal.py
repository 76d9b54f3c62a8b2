"""The refuse-or-quote decision and what is quoted (retrieval/passages.py, retrieval/gate.py,
Pipeline.more and follow-ups): exact boundaries, with hits built by hand and expected
values written out, plus "more" and a bridged follow-up through the real pipeline."""

from __future__ import annotations

import pytest

from retrieval import gate
from retrieval.passages import (
    EXCERPT_CHARS,
    SECOND_PASSAGE_MARGIN,
    choose,
    choose_more,
    excerpt,
    more_candidates,
    quote,
)
from retrieval.pipeline import without_repeats
from retrieval.records import Hit

FIVE = "一一一。二二二。三三三。四四四。五五五。"  # five sentences of 4 characters on one line


def _hit(chunk: str, score: float, text: str = "瘦脸针的效果一般维持四到六个月。") -> Hit:
    return Hit(chunk, f"{chunk}.txt", "标题", None, None, text, score)


# --- the decision --------------------------------------------------------------------------


def test_a_hit_exactly_at_the_threshold_is_quoted_and_one_just_below_is_refused():
    answered = choose("问题", [_hit("a", 0.25)], "zh", 0.25)
    assert not answered.refused and [p.hit.chunk_id for p in answered.passages] == ["a"]
    refused = choose("问题", [_hit("a", 0.2499)], "zh", 0.25)
    assert (refused.question, refused.lang) == ("问题", "zh") and refused.refused and refused.passages == [] and refused.threshold == 0.25
    assert choose("问题", [], "zh", 0.25).refused


def test_a_second_passage_is_quoted_only_close_to_the_best_and_never_a_third():
    close, far = 0.5 - SECOND_PASSAGE_MARGIN + 1e-6, 0.5 - SECOND_PASSAGE_MARGIN - 0.001
    hits = [_hit("a", 0.5), _hit("b", close), _hit("c", far), _hit("d", 0.49)]
    chosen = choose("问题", hits, "zh", 0.1)
    assert [p.hit.chunk_id for p in chosen.passages] == ["a", "b"]  # b is just within the margin; at most two
    alone = choose("问题", [_hit("a", 0.5), _hit("c", far)], "zh", 0.1)
    assert [p.hit.chunk_id for p in alone.passages] == ["a"]


def _ranked(chunk: str, score: float, evidence: float) -> Hit:
    hit = _hit(chunk, score)
    hit.evidence = evidence
    return hit


def test_the_answer_is_decided_on_relevance_and_quotes_the_hit_with_the_best_evidence():
    # "a" answers in one sentence (best evidence) but scores under the threshold as a whole;
    # "b" reaches it: the question is answered, and "a" is quoted first
    hits = [_ranked("a", 0.04, 0.30), _ranked("b", 0.06, 0.28), _ranked("c", 0.07, 0.20)]
    chosen = choose("问题", hits, "zh", 0.05)
    assert not chosen.refused and [p.hit.chunk_id for p in chosen.passages] == ["a", "b"]
    # a second passage must reach the threshold itself and rank within the margin of the first
    assert [p.hit.chunk_id for p in choose("问题", hits[:1] + hits[2:], "zh", 0.05).passages] == ["a"]
    assert [p.hit.chunk_id for p in choose("问题", [_ranked("a", 0.06, 0.3), _ranked("b", 0.04, 0.3)], "zh", 0.05).passages] == ["a"]
    # nothing reaches the threshold: refused, whatever the evidence
    assert choose("问题", [_ranked("a", 0.049, 0.9), _ranked("b", 0.01, 0.5)], "zh", 0.05).refused


def test_of_one_articles_two_passages_the_one_whose_sentence_answers_best_comes_first():
    # "a" has the better evidence (the article is chosen by it), "b" the sentence that answers
    # ("多久能恢复": its duration, where "a" holds a definition): "b" opens the reply
    a, b = _ranked("a", 0.1, 0.30), _ranked("b", 0.1, 0.28)
    a.article = b.article = "palsy.txt"
    a.sentence_scores, b.sentence_scores = [0.2], [0.4]
    assert [p.hit.chunk_id for p in choose("问题", [a, b], "zh", 0.05).passages] == ["b", "a"]
    b.sentence_scores = [0.1]
    assert [p.hit.chunk_id for p in choose("问题", [a, b], "zh", 0.05).passages] == ["a", "b"]
    # passages of two articles keep the evidence order: which article answers is the evidence's call
    c = _ranked("c", 0.1, 0.28)
    c.sentence_scores = [0.9]
    assert [p.hit.chunk_id for p in choose("问题", [a, c], "zh", 0.05).passages] == ["a", "c"]


def _one_article(*hits: Hit) -> list[Hit]:
    for hit in hits:
        hit.article = "a.txt"
    return list(hits)


def test_more_offers_hits_down_to_the_threshold_or_the_drop_whichever_is_higher():
    hits = _one_article(_hit("1", 0.15), _hit("2", 0.12), _hit("3", 0.119), _hit("4", 0.13))
    assert [h.chunk_id for h in more_candidates(hits, {"1"}, 0.12, {"a.txt"})] == ["2", "4"]  # exactly at the threshold: offered
    assert [h.chunk_id for h in more_candidates(hits, set(), 0.0, {"a.txt"})] == ["1", "2", "3", "4"]  # drop floor 0.10
    assert more_candidates([], set(), 0.0, set()) == []


def test_more_goes_on_in_the_articles_already_quoted_only():
    hits = [_hit("1", 0.15), _hit("2", 0.14), _hit("3", 0.12), _hit("4", 0.11)]
    hits[2].article = hits[0].article  # "3" is of the article quoted first, "2" and "4" of others
    assert [h.chunk_id for h in more_candidates(hits, {"1"}, 0.05, {"1.txt"})] == ["3"]
    # the articles quoted are read from the index: the shown chunk need not be among the hits
    assert [h.chunk_id for h in more_candidates(hits[1:], {"1"}, 0.05, {"4.txt"})] == ["4"]
    assert [h.chunk_id for h in more_candidates(hits, {"1", "3"}, 0.05, {"1.txt"})] == []
    # no article known (nothing shown yet, or what was is no longer in the index): any article
    assert [h.chunk_id for h in more_candidates(hits, set(), 0.05, set())] == ["1", "2", "3", "4"]
    assert [h.chunk_id for h in more_candidates(hits[1:], {"1"}, 0.05, set())] == ["2", "3", "4"]
    assert [p.hit.chunk_id for p in choose_more("问题", hits, "zh", 0.05, shown={"2"}, page=2, articles={"2.txt"}).passages] == []


def test_more_pages_skip_what_was_shown_and_refuse_when_nothing_is_left():
    hits = _one_article(_hit("1", 0.3), _hit("2", 0.29), _hit("3", 0.28), _hit("4", 0.27), _hit("5", 0.1))
    page = choose_more("问题", hits, "zh", 0.2, shown={"1"}, page=2, articles={"a.txt"})
    assert (page.question, page.lang) == ("问题", "zh") and not page.refused and [p.hit.chunk_id for p in page.passages] == ["2", "3"]
    assert page.threshold == 0.2 and page.hits == hits
    last = choose_more("问题", hits, "zh", 0.2, shown={"1", "2", "3"}, page=2, articles={"a.txt"})
    assert [p.hit.chunk_id for p in last.passages] == ["4"]
    done = choose_more("问题", hits, "zh", 0.2, shown={"1", "2", "3", "4"}, page=2, articles={"a.txt"})
    assert done.refused and done.passages == []


# --- the excerpt ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scores,limit,expected",
    [
        ([0, 0, 1, 0, 0], 12, ("…二二二。三三三。四四四。…", "三三三。")),  # the sentence after first, then the one before
        ([0, 0, 1, 0, 0], 8, ("…三三三。四四四。…", "三三三。")),  # exactly the limit: kept
        ([0, 0, 1, 0, 0], 7, ("…三三三。…", "三三三。")),  # no neighbour fits
        ([0, 0, 0, 1, 0], 8, ("…四四四。五五五。", "四四四。")),  # the last sentence is a neighbour too
        ([0, 0, 0, 0, 1], 12, ("…三三三。四四四。五五五。", "五五五。")),  # at the end: grows backwards, one at a time
        ([1, 0, 0, 0, 0], 12, ("一一一。二二二。三三三。…", "一一一。")),
        ([0, 1, 0, 0, 0], 12, ("一一一。二二二。三三三。…", "二二二。")),  # grows back to the first sentence
        ([0, 1, 0, 1, 0], 4, ("…二二二。…", "二二二。")),  # a tie: the earlier sentence
        ([0, 0, 1, 0, 0], 20, (FIVE, "三三三。")),  # the whole text fits
        # after the answer and the sentence that follows it, the next best, wherever it stands
        ([0.5, 0, 1, 0, 0.1], 12, ("一一一。…三三三。四四四。…", "三三三。")),
        ([0.5, 0, 1, 0.2, 0.9], 12, ("…三三三。四四四。五五五。", "三三三。")),
        ([0, 0.3, 0, 0.2, 1], 12, ("…二二二。…四四四。五五五。", "五五五。")),  # the last one: no sentence after it
    ],
)
def test_the_excerpt_keeps_the_answer_whole_with_neighbours_up_to_the_limit(scores, limit, expected):
    assert excerpt(FIVE, "问题", limit, scores) == expected


def test_the_excerpt_joins_sentences_as_the_language_writes_them():
    assert excerpt("First one. Second one.", "q", 400, [0, 1]) == ("First one. Second one.", "Second one.")
    assert excerpt("第一行。\n第二行。", "问题", 400, [1, 0]) == ("第一行。\n第二行。", "第一行。")
    assert excerpt("Aaa bbb. Ccc ddd. Eee fff.", "q", 12, [0, 1, 0]) == ("... Ccc ddd. ...", "Ccc ddd.")
    assert excerpt("Aaa bbb. Ccc ddd. Eee fff. Ggg hhh.", "q", 24, [0.9, 0, 0, 1]) == ("Aaa bbb. ... Eee fff. Ggg hhh.", "Ggg hhh.")
    assert excerpt("", "问题", 100) == ("", "")
    assert excerpt("   ", "问题", 100) == ("", "")


def test_without_sentence_scores_the_sentence_sharing_most_terms_is_the_answer():
    text = "瘦脸针一般维持四到六个月。注射后二十四小时内不要化妆。"
    assert excerpt(text, "打完多久可以化妆", 400)[1] == "注射后二十四小时内不要化妆。"


def test_english_passages_are_quoted_longer_than_chinese_ones():
    english = " ".join(f"Sentence number {i} says something about botox." for i in range(8))  # about 370 characters
    quoted = quote([_hit("e", 0.3, english)], "botox")
    assert quoted[0].excerpt == english  # under 400 characters: whole
    chinese = "".join(f"第{i}句讲的是瘦脸针注射以后需要注意的一些事项。" for i in range(20))  # about 470 characters
    cut = quote([_hit("z", 0.3, chinese)], "瘦脸针")[0].excerpt
    limit = EXCERPT_CHARS["zh"]
    assert limit - 30 < len(cut) <= limit + 2 and cut.endswith("…")  # up to the limit, and the ellipses
    mixed = quote([_hit("e", 0.3, english), _hit("z", 0.3, chinese)], "botox")
    assert len(mixed[0].excerpt) < len(english)  # one Chinese hit: the shorter limit for both


# --- the offsets the gate adds ---------------------------------------------------------------


def test_a_clause_of_one_letter_still_counts():
    assert gate.clauses("打完瘦脸针。X。") == ["打完瘦脸针。", "X。"]


def test_offsets_accept_the_whole_range_and_refuse_outside_it():
    assert gate.parse_offsets("en=-1,long=1") == {"en": -1.0, "long": 1.0}
    assert gate.parse_offsets(",en=0.1") == {"en": 0.1}  # an empty part is skipped, not the end
    for bad in ("en=1.5", "en=-1.5", "en=1.0001", "long=-1.0001"):
        with pytest.raises(ValueError, match="the offset must be a number from -1 to 1"):
            gate.parse_offsets(bad)


def test_offset_errors_say_what_is_wrong():
    with pytest.raises(ValueError) as info:
        gate.parse_offsets("en=0.1=2")
    assert str(info.value) == "'en=0.1=2': '0.1=2' is not a number"
    with pytest.raises(ValueError) as info:
        gate.parse_offsets("English=0.1")
    assert str(info.value) == "'English=0.1' is not KEY=NUMBER (KEY: zh, en or long)"
    with pytest.raises(ValueError) as info:
        gate.parse_offsets("en=2")
    assert str(info.value) == "'en=2': the offset must be a number from -1 to 1"
    assert gate.format_offsets({"long": -0.024, "en": 0.046}) == "en=+0.046,long=-0.024"


# --- through the real pipeline ----------------------------------------------------------------


def test_more_pages_are_the_next_relevant_hits_in_rank_order_then_end(pipeline):
    """"More", page after page, offers what the search ranks next of the articles the answer
    quoted, two at a time, down to the threshold or MORE_DROP (0.05) below the best hit, then
    says it has run out."""
    question = "瘦脸针会导致面瘫吗"
    first = pipeline.answer(question)
    ranked = pipeline.searcher.search(question, 30)
    floor = max(first.threshold, ranked[0].score - 0.05)
    shown = [p.hit.chunk_id for p in first.passages]
    quoted = {p.hit.article for p in first.passages}
    expected = [h.chunk_id for h in ranked if h.score >= floor and h.chunk_id not in shown and h.article in quoted]
    assert len(expected) >= 3  # more than one page
    assert any(h.score >= floor and h.article not in quoted for h in ranked)  # others were relevant enough, and left out
    offered, pages = [], []
    for _ in range(20):  # bounded: the bundled corpus runs out long before
        page = pipeline.more(question, "zh", shown + offered)
        if page.refused:
            break
        assert (page.question, page.lang, page.threshold) == (question, "zh", first.threshold)
        pages.append(len(page.passages))
        offered += [p.hit.chunk_id for p in page.passages]
    assert offered == expected
    assert pages[0] == 2 and all(n in (1, 2) for n in pages)
    assert page.refused and page.passages == [] and page.question == question
    assert pipeline.more("What is the capital of France?", "en", []).refused
    # the "more" button is offered exactly while a page would follow
    assert pipeline.has_more(question, "zh", shown) and not pipeline.has_more(question, "zh", shown + offered)
    assert not pipeline.has_more("", "zh", [])


def test_a_message_with_nothing_to_search_is_refused_as_empty(pipeline):
    answer = pipeline.answer("？？？ ……")
    assert (answer.question, answer.lang, answer.refused, answer.hits, answer.empty) == ("？？？ ……", "zh", True, [], True)
    assert pipeline.answer("瘦脸针").empty is False


def test_a_repeated_sentence_is_searched_once():
    assert without_repeats("我很担心。我很担心。打瘦脸针疼吗？") == "我很担心。打瘦脸针疼吗？"
    assert without_repeats("I'm worried. I'M WORRIED. Does botox hurt?") == "I'm worried. Does botox hurt?"
    assert without_repeats("打瘦脸针疼吗？") == "打瘦脸针疼吗？"


def test_a_short_english_follow_up_known_only_through_the_bridge_uses_the_previous_question(pipeline):
    """"balance" is not a word of the English article; the uneven-face article writes 平衡 (the
    bridge links them): alone it is refused, after a question about an uneven face it is
    answered. A word no article uses in either language ("masseter": CC-CEDICT lacks it,
    and no article writes it) stays refused."""
    question = "My face looks uneven after botox, will it fix itself?"
    assert pipeline.answer("balance").refused
    answer = pipeline.answer("balance", context=question)
    assert not answer.refused
    assert answer.question == "balance" and answer.searched == f"{question} balance"
    assert answer.passages[0].hit.article == "botox-uneven-face-after-injection.txt"
    assert pipeline.answer("masseter", context=question).refused


def test_the_sentence_marked_in_a_follow_up_answers_the_new_question(pipeline):
    """"那要多久恢复" after a question about sunken cheeks: the passage is found with both, but the
    sentence marked is the one saying how long (3 to 6 months), not one repeating that it recovers."""
    answer = pipeline.answer("那要多久恢复", context="打瘦脸针后脸颊凹陷怎么办")
    assert answer.searched == "打瘦脸针后脸颊凹陷怎么办 那要多久恢复" and answer.question == "那要多久恢复"
    assert "3 - 6个月" in answer.passages[0].focus


def test_a_huge_message_is_searched_by_its_question(pipeline):
    """Over 1,000 characters, the sentences that ask are searched first (pipeline.question_part):
    a question after a long story is answered, as it is without the story."""
    exact = "打完瘦脸针多久可以化妆" + "。" * 989
    assert len(exact) == 1000 and pipeline.answer(exact).truncated_at is None
    assert pipeline.answer("打完瘦脸针多久可以化妆").truncated_at is None
    story = "".join(f"我第{n}次去那家店，店员都很热情，环境也不错。" for n in range(1, 61))
    assert len(story) > 1000
    alone, huge = pipeline.answer("打完瘦脸针多久可以化妆？"), pipeline.answer(story + "打完瘦脸针多久可以化妆？")
    assert huge.truncated_at == 1000 and len(huge.question) <= 1000 and huge.searched.endswith("打完瘦脸针多久可以化妆？")
    assert not huge.refused and huge.passages[0].focus == alone.passages[0].focus
    first = pipeline.answer("打完瘦脸针多久可以化妆？" + story)  # the question first, then the story: still read
    assert first.truncated_at == 1000 and first.searched.startswith("打完瘦脸针多久可以化妆？") and not first.refused


def test_the_configured_top_k_bounds_the_passages_searched(monkeypatch, bundled_data, pipeline):
    """ARTICLEBOT_TOP_K, set as an operator sets it, is the number of passages a question searches."""
    from bot.config import Config
    from bot.service import open_pipeline

    question = "瘦脸针会导致面瘫吗"
    assert len(pipeline.answer(question).hits) == 5  # the default
    monkeypatch.setenv("ARTICLEBOT_DATA", str(bundled_data))
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    for top_k in (2, 7):
        monkeypatch.setenv("ARTICLEBOT_TOP_K", str(top_k))
        configured = open_pipeline(Config.from_env())
        try:
            hits = configured.answer(question).hits
        finally:
            configured.searcher.index.close()
        assert [h.chunk_id for h in hits] == [h.chunk_id for h in pipeline.searcher.search(question, top_k)]
        assert len(hits) == top_k
