"""Telegram HTML: escaping, links, splitting long replies, the disclaimer last."""

from __future__ import annotations

from bot.telegram.fake_botapi import check_html
from presentation.telegram_html import (
    TELEGRAM_LIMIT,
    answer_paragraphs,
    passage_html,
    split_parts,
    text_paragraphs,
    with_disclaimer_html,
)
from presentation.texts import DISCLAIMER
from retrieval.records import Answer, Hit, Passage


def hit(n: int, url: str | None = None, title: str = "标题") -> Hit:
    return Hit(f"c{n}", f"a{n}.txt", title, url, None, "正文", 0.9)


def test_user_and_article_text_is_escaped():
    passage = Passage(hit(1, title="<b>A & B</b>"), "1 < 2 & 3 > 2 <script>")
    html = passage_html(passage)
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in html
    assert "1 &lt; 2 &amp; 3 &gt; 2 &lt;script&gt;" in html
    assert check_html(html)[0] == []


def test_titles_link_to_their_source_only_for_web_urls():
    assert '<a href="https://x.org/a?b=1&amp;c=&quot;2&quot;">标题</a>' in passage_html(Passage(hit(1, 'https://x.org/a?b=1&c="2"'), "e"))
    assert "<a " not in passage_html(Passage(hit(2, "javascript:alert(1)"), "e"))
    assert "<b>标题</b>" in passage_html(Passage(hit(3), "e"))


def test_a_long_reply_is_split_between_paragraphs_each_part_ending_with_the_disclaimer():
    passages = [Passage(hit(i, f"https://x.org/{i}"), f"第{i}段：" + "很长的内容&<>" * 60) for i in range(30)]
    answer = Answer("q", "zh", refused=False, hits=[p.hit for p in passages], passages=passages)
    parts = with_disclaimer_html(answer_paragraphs(answer), "zh")
    assert len(parts) > 1
    for part in parts:
        errors, visible = check_html(part)
        assert errors == []
        assert len(part) <= TELEGRAM_LIMIT
    assert all(p.endswith(f"<i>{DISCLAIMER['zh']}</i>") and p.count(DISCLAIMER["zh"]) == 1 for p in parts)
    # nothing lost: every passage appears exactly once
    joined = "".join(parts)
    assert all(joined.count(f"https://x.org/{i}\"") == 1 for i in range(30))


def test_split_parts_keeps_order_and_limit():
    paragraphs = [str(i) * 100 for i in range(10)]
    parts = split_parts(paragraphs, limit=250)
    assert all(len(p) <= 250 for p in parts)
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)


def test_notice_text_is_escaped_and_cut():
    paragraphs = text_paragraphs("a<b\n\n" + "x" * 7000)
    assert paragraphs[0] == "a&lt;b"
    assert all(len(p) <= 3000 for p in paragraphs)
    assert "".join(paragraphs[1:]) == "x" * 7000
