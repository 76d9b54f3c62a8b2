"""The rules every rendered reply keeps, checked on small hand-built answers against the
exact text a user sees: the blocks in order, the disclaimer last, quotes cut around the
sentence that answers, user text escaped, Telegram's length limit counted in UTF-16 units."""

from __future__ import annotations

import pytest

from bot.telegram.fake_botapi import check_html
from presentation.plain import passage_text, render_text, with_disclaimer
from presentation.telegram_html import (
    answer_paragraphs,
    excerpt_html,
    passage_html,
    split_parts,
    text_paragraphs,
    units,
    with_disclaimer_html,
)
from presentation.texts import DISCLAIMER, EMPTY_QUESTION, INTRO, NOT_COVERED
from retrieval.records import Answer, Hit, Passage
from retrieval.safety import Assessment

STROKE = Assessment(emergency="stroke", notices={"zh": "请立即拨打120！", "en": "Call an ambulance now: this may be a stroke."})
DOSE = Assessment(advice=True, advice_notices={"zh": "我不能给出个人用药建议。", "en": "I cannot advise on your own dose; ask your doctor."})
STROKE_AND_DOSE = Assessment(emergency="stroke", advice=True, notices=STROKE.notices, advice_notices=DOSE.advice_notices)
PALSY_EXCERPT = "Most people recover. Massage does not speed recovery. See a doctor."
PALSY_FOCUS = "Massage does not speed recovery."
EN_CLOSING = f"<i>{DISCLAIMER['en']}</i>"  # every Telegram message in English ends with this
ZH_CLOSING = f"<i>{DISCLAIMER['zh']}</i>"


def hit(url: str | None = "https://example.org/palsy", title: str = "Facial palsy", article: str = "palsy.txt") -> Hit:
    return Hit("c1", article, title, url, None, PALSY_EXCERPT, 0.9)


def palsy(url: str | None = "https://example.org/palsy") -> Passage:
    return Passage(hit(url), PALSY_EXCERPT, PALSY_FOCUS)


def answer(lang: str = "en", *, refused: bool = False, passages: list[Passage] | None = None, **fields) -> Answer:
    passages = [] if passages is None else passages
    return Answer("q", lang, refused=refused, hits=[p.hit for p in passages], passages=passages, **fields)


def utf16(text: str) -> int:
    """Length as Telegram counts it, worked out here independently of the code under test."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


# --- plain text (terminal, `ask`, the log) ------------------------------------------


def test_plain_answer_reads_intro_quote_source_then_disclaimer():
    assert render_text(answer(passages=[palsy()])) == (
        "Here is what the articles say:\n\n"
        "📄 Facial palsy\n"
        "Most people recover. Massage does not speed recovery. See a doctor.\n"
        "🔗 https://example.org/palsy\n\n" + DISCLAIMER["en"]
    )


def passage_in(lang: str, text: str) -> Passage:
    return Passage(Hit(f"c-{lang}", f"{lang}.txt", f"title {lang}", None, None, text, 0.9, lang=lang), text, text)


def test_the_intro_says_so_when_the_articles_quoted_are_in_another_language():
    zh, en = passage_in("zh", "多数患者可以恢复。"), passage_in("en", "Most people recover.")
    assert render_text(answer("en", passages=[zh])).startswith(
        "Here is what the articles say (they are written in Chinese; quoted as written):\n\n📄 title zh\n多数患者可以恢复。")
    assert render_text(answer("zh", passages=[en])).startswith("文章中是这样说的（原文是英文，照原文引用）：\n\n")
    assert render_text(answer("en", passages=[en, zh])).startswith(
        "Here is what the articles say (some are written in Chinese; quoted as written):\n\n")
    assert render_text(answer("zh", passages=[zh, en])).startswith("文章中是这样说的（部分原文是英文，照原文引用）：\n\n")
    # quotes in the question's own language, or of no known language, get the plain intro
    assert render_text(answer("en", passages=[en])).startswith(f"{INTRO['en']}\n\n")
    assert render_text(answer("zh", passages=[palsy()])).startswith(f"{INTRO['zh']}\n\n")
    html = "\n".join(answer_paragraphs(answer("en", passages=[zh])))
    assert "they are written in Chinese" in html and html.count("多数患者可以恢复。") == 1


def test_plain_quote_without_a_url_has_no_link_line():
    assert passage_text(palsy(url=None)) == "📄 Facial palsy\nMost people recover. Massage does not speed recovery. See a doctor."


def test_plain_reply_puts_the_emergency_first_and_no_not_covered_after_it():
    reply = render_text(answer(refused=True, truncated_at=500, safety=STROKE))
    assert reply == (
        "Call an ambulance now: this may be a stroke.\n\n"
        "(Your message was long; I answered from at most 500 characters of it, its questions first.)\n\n" + DISCLAIMER["en"]
    )


def test_plain_refusal_says_not_covered_then_the_disclaimer():
    assert render_text(answer("zh", refused=True)) == f"{NOT_COVERED['zh']}\n\n{DISCLAIMER['zh']}"


def test_plain_empty_question_asks_for_one_even_when_refused():
    assert render_text(answer(refused=True, empty=True)) == f"{EMPTY_QUESTION['en']}\n\n{DISCLAIMER['en']}"


def test_plain_dose_question_gets_the_no_personal_advice_caveat_after_the_quotes():
    assert render_text(answer(passages=[palsy(url=None)], safety=DOSE)) == (
        f"{INTRO['en']}\n\n"
        "📄 Facial palsy\nMost people recover. Massage does not speed recovery. See a doctor.\n\n"
        "I cannot advise on your own dose; ask your doctor.\n\n" + DISCLAIMER["en"]
    )


@pytest.mark.parametrize(
    "safety",
    [
        Assessment(emergency="stroke"),  # flagged but no notice text: nothing to show, nothing breaks
        Assessment(notices=STROKE.notices),  # notices without an emergency are not shown
        Assessment(advice=True),
        Assessment(advice_notices=DOSE.advice_notices),  # a caveat only when advice was asked for
    ],
)
def test_plain_shows_a_safety_notice_only_with_both_the_flag_and_its_text(safety):
    assert render_text(answer(passages=[palsy(url=None)], safety=safety)) == (
        f"{INTRO['en']}\n\n"
        "📄 Facial palsy\nMost people recover. Massage does not speed recovery. See a doctor.\n\n" + DISCLAIMER["en"]
    )


def test_with_disclaimer_trims_trailing_space_and_stands_alone_for_empty_text():
    assert with_disclaimer("Hello!  \n\n", "en") == f"Hello!\n\n{DISCLAIMER['en']}"
    assert with_disclaimer(" \n ", "en") == DISCLAIMER["en"]
    assert with_disclaimer("您好", "fr") == f"您好\n\n{DISCLAIMER['zh']}"  # any other language: Chinese


def test_long_titles_are_cut_with_an_ellipsis_and_blank_titles_fall_back_to_the_file_name():
    def shown_title(title: str) -> str:
        return passage_text(Passage(hit(None, title=title, article="botox-faq.txt"), "e")).split("\n")[0]

    assert shown_title("Facial\n  palsy \t after  botox") == "📄 Facial palsy after botox"
    assert shown_title("") == "📄 botox-faq.txt"
    assert shown_title("t" * 120) == "📄 " + "t" * 120
    assert shown_title("t" * 121) == "📄 " + "t" * 119 + "…"
    assert shown_title("t" * 118 + " " + "u" * 10) == "📄 " + "t" * 118 + "…"  # no space before the "…"


# --- cutting a long quote around the sentence that answers -----------------------------

FOCUS = "按摩不能加快面瘫恢复。"  # 11 characters


def quote(excerpt: str, focus: str = "") -> str:
    """The excerpt line of a plain quote."""
    return passage_text(Passage(hit(None), excerpt, focus)).split("\n")[1]


def test_a_quote_up_to_1500_characters_is_shown_whole():
    assert quote("前" * 1500) == "前" * 1500
    assert quote("前" * 1501) == "前" * 1500 + "…"


def test_a_long_quote_keeps_300_characters_before_the_answering_sentence():
    excerpt = "前" * 1000 + FOCUS + "后" * 2000
    # 1500 characters from a fifth of the limit before the sentence, "…" at both cuts
    assert quote(excerpt, FOCUS) == "…" + "前" * 300 + FOCUS + "后" * 1189 + "…"


def test_an_answering_sentence_near_the_beginning_keeps_the_start_of_the_quote():
    assert quote("前" * 100 + FOCUS + "后" * 2000, FOCUS) == "前" * 100 + FOCUS + "后" * 1389 + "…"


def test_an_answering_sentence_that_appears_twice_is_quoted_around_its_first_copy():
    # passages.excerpt picks the first of equally good sentences, so the first copy is the one meant
    excerpt = "前" * 1000 + FOCUS + "中" * 1000 + FOCUS + "后" * 1000
    assert quote(excerpt, FOCUS) == "…" + "前" * 300 + FOCUS + "中" * 1000 + FOCUS + "后" * 178 + "…"


def test_an_answering_sentence_near_the_end_shows_the_last_1500_characters():
    excerpt = "前" * 1000 + FOCUS + "后" * 1000
    assert quote(excerpt, FOCUS) == "…" + "前" * 489 + FOCUS + "后" * 1000


def test_an_answering_sentence_longer_than_the_window_is_never_cut():
    at_start = "长" * 1600
    assert quote(at_start + "后" * 400, at_start) == at_start + "…"
    in_middle = "长" * 1400
    assert quote("前" * 2000 + in_middle + "后" * 2000, in_middle) == "…" + "前" * 300 + in_middle + "…"


def test_a_long_quote_whose_sentence_is_not_found_starts_at_the_beginning():
    assert quote("前" * 1000 + "后" * 1000, FOCUS) == "前" * 1000 + "后" * 500 + "…"
    assert quote("前" * 1000 + "后" * 1000, "") == "前" * 1000 + "后" * 500 + "…"
    # a sentence that is not in the quote never stretches it past 1500 characters, however long
    assert quote("前" * 1000 + "后" * 1000, "长" * 1600) == "前" * 1000 + "后" * 500 + "…"


# --- Telegram HTML -----------------------------------------------------------------------


def test_telegram_answer_is_one_message_with_the_sentence_in_bold_and_the_disclaimer_last():
    parts = with_disclaimer_html(answer_paragraphs(answer(passages=[palsy()], truncated_at=500, safety=STROKE)), "en")
    assert parts == [
        "<b>Call an ambulance now: this may be a stroke.</b>\n\n"
        "<i>(Your message was long; I answered from at most 500 characters of it, its questions first.)</i>\n\n"
        "Here is what the articles say:\n\n"
        '📄 <a href="https://example.org/palsy">Facial palsy</a>\n'
        "<blockquote>Most people recover. <b>Massage does not speed recovery.</b> See a doctor.</blockquote>\n\n" + EN_CLOSING
    ]
    assert check_html(parts[0])[0] == []


def test_telegram_more_page_has_only_passages_and_the_advice_caveat():
    paragraphs = answer_paragraphs(answer(passages=[palsy(url=None)], safety=STROKE_AND_DOSE), more=True)
    assert paragraphs == [
        "📄 <b>Facial palsy</b>\n<blockquote>Most people recover. <b>Massage does not speed recovery.</b> See a doctor.</blockquote>",
        "<i>I cannot advise on your own dose; ask your doctor.</i>",
    ]


def test_telegram_refusal_and_notices_escape_their_text():
    notices = {"zh": "<警告> 请拨打120 & 急救", "en": "unused"}
    parts = with_disclaimer_html(answer_paragraphs(answer("zh", refused=True, safety=Assessment(emergency="x", notices=notices))), "zh")
    assert parts == ["<b>&lt;警告&gt; 请拨打120 &amp; 急救</b>\n\n" + ZH_CLOSING]
    assert with_disclaimer_html(answer_paragraphs(answer("zh", refused=True)), "zh") == [f"{NOT_COVERED['zh']}\n\n{ZH_CLOSING}"]


def test_telegram_empty_question_asks_for_one():
    assert with_disclaimer_html(answer_paragraphs(answer("zh", refused=True, empty=True)), "zh") == [
        f"{EMPTY_QUESTION['zh']}\n\n{ZH_CLOSING}"
    ]


def test_a_message_with_nothing_else_is_just_the_disclaimer():
    assert with_disclaimer_html([], "en") == [EN_CLOSING]
    assert with_disclaimer_html(text_paragraphs(" \n\n \n\n"), "zh") == [ZH_CLOSING]


def test_quotes_and_apostrophes_are_sent_as_written():
    excerpt = "Doctors say \"rest\" and 'wait'; 1 < 2."
    assert excerpt_html(excerpt, "") == "Doctors say \"rest\" and 'wait'; 1 &lt; 2."


def test_the_answering_sentence_is_bold_wherever_it_is_and_escaped_inside():
    assert excerpt_html("A<B. Then C.", "A<B.") == "<b>A&lt;B.</b> Then C."
    assert excerpt_html("Then C. A&B.", "A&B.") == "Then C. <b>A&amp;B.</b>"
    assert excerpt_html("Nothing here.", "Other sentence.") == "Nothing here."
    assert excerpt_html("Rest. Wait. Rest.", "Rest.") == "<b>Rest.</b> Wait. Rest."  # the first copy, as chosen


@pytest.mark.parametrize("url", ["", None, "ftp://example.org/a", "https:///no-host", "mailto:x@example.org", "example.org/a"])
def test_titles_link_only_to_web_addresses_with_a_host(url):
    assert passage_html(Passage(hit(url), "e")) == "📄 <b>Facial palsy</b>\n<blockquote>e</blockquote>"


def test_plain_http_addresses_are_linked_too():
    assert passage_html(Passage(hit("http://example.org/a?x=1&y=2"), "e")) == (
        '📄 <a href="http://example.org/a?x=1&amp;y=2">Facial palsy</a>\n<blockquote>e</blockquote>'
    )


def test_notice_paragraphs_are_split_at_blank_lines_and_cut_every_3000_characters():
    assert text_paragraphs("Please wait.\n\nThen try again.") == ["Please wait.", "Then try again."]
    assert text_paragraphs("x" * 6000) == ["x" * 3000, "x" * 3000]


def test_lengths_are_counted_in_utf16_units_as_telegram_counts_them():
    assert units("a面😀") == 4  # an emoji outside the BMP is two units
    assert units("\ud83d") == 1  # a lone surrogate from a broken client is counted, not an error


def test_a_message_of_exactly_4000_units_goes_in_one_piece_and_one_unit_more_splits_it():
    budget = 4000 - utf16(EN_CLOSING) - 2  # what fits before "\n\n" and the disclaimer
    emoji = "😀" * 1000  # 2000 units
    first = "a" * (budget - 2 - 2000)
    parts = with_disclaimer_html([first, emoji], "en")
    assert parts == [f"{first}\n\n{emoji}\n\n{EN_CLOSING}"]
    assert utf16(parts[0]) == 4000
    longer = first + "a"
    assert with_disclaimer_html([longer, emoji], "en") == [f"{longer}\n\n{EN_CLOSING}", f"{emoji}\n\n{EN_CLOSING}"]


def test_paragraphs_are_packed_up_to_the_limit_inclusive():
    assert split_parts(["aaa", "bbb", "cc"], limit=8) == ["aaa\n\nbbb", "cc"]
    assert split_parts(["aaa", "bbb", "cc", "dd", "eeeeeeee"], limit=8) == ["aaa\n\nbbb", "cc\n\ndd", "eeeeeeee"]


def test_a_paragraph_that_fits_exactly_keeps_its_markup():
    assert split_parts(["<b>ab</b>", "c"], limit=9) == ["<b>ab</b>", "c"]


def test_a_paragraph_too_long_for_a_message_is_sent_as_plain_pieces_never_breaking_an_entity():
    paragraph = "<blockquote>a&amp;b <b>c</b></blockquote>"
    assert split_parts([paragraph], limit=5) == ["a", "&amp;", "b c"]
    assert split_parts(["<b>" + "x" * 10 + "</b>"], limit=4) == ["xxxx", "xxxx", "xx"]
    assert split_parts(["<i>abc    </i>"], limit=3) == ["abc"]  # a piece of only spaces is dropped


def test_a_quote_too_long_for_one_message_arrives_whole_across_parts_each_with_the_disclaimer():
    excerpt = "&" * 1500  # escaped, 7500 units: more than a message
    parts = with_disclaimer_html(answer_paragraphs(answer(passages=[Passage(hit(None), excerpt)]), more=True), "en")
    budget = 4000 - utf16(EN_CLOSING) - 2
    pieces = [part.removesuffix(f"\n\n{EN_CLOSING}") for part in parts]
    assert all(part.endswith(f"\n\n{EN_CLOSING}") for part in parts)
    assert all(check_html(part)[0] == [] and utf16(piece) <= budget for part, piece in zip(parts, pieces))
    assert "".join(pieces) == "📄 Facial palsy\n" + "&amp;" * 1500
