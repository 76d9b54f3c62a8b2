"""Compose the reply: quote the best passages with their sources, then the disclaimer.

The disclaimer is the single source of truth for every message the bot sends:
`with_disclaimer` appends it, in the question's language, to answers, "not
covered" replies and error messages alike. Passages are trimmed to the sentences
that answer the question: the sentence sharing the most words (Chinese character
bigrams, English words) with the question, widened with its neighbours up to a
length that reads well on a phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpus.text import fold, split_sentences
from retrieval.search import Hit

DISCLAIMER = {
    "zh": "⚕️ 以上内容摘自健康科普文章，仅供参考，不能代替医生的诊断和治疗。如有不适，请及时就医。",
    "en": "⚕️ This is quoted from health articles for information only and is not medical advice. Please see a doctor about your own health.",
}

NOT_COVERED = {
    "zh": "抱歉，我的文章库里没有能回答这个问题的内容，我只能根据这些文章作答。关于您的情况，建议咨询医生。",
    "en": "Sorry, the articles I have do not cover this question, and I can only answer from them. Please ask a doctor about your situation.",
}

EMPTY_QUESTION = {
    "zh": "请直接输入您想了解的健康问题，例如：打瘦脸针后面瘫多久能恢复？",
    "en": "Please type your health question, for example: can massage help facial palsy?",
}

TRUNCATED_NOTE = {
    "zh": "（您的消息较长，我只根据前 {n} 个字作答。）",
    "en": "(Your message was long; I answered from its first {n} characters.)",
}

INTRO = {
    "zh": "文章中是这样说的：",
    "en": "Here is what the articles say:",
}

EXCERPT_CHARS = {"zh": 180, "en": 400}
MAX_PASSAGES = 2
SECOND_PASSAGE_MARGIN = 0.03  # a second passage is quoted only if it scores this close to the best


def with_disclaimer(text: str, lang: str) -> str:
    """Append the see-a-doctor disclaimer (in `lang`) to any message text."""
    text = text.rstrip()
    disclaimer = DISCLAIMER.get(lang, DISCLAIMER["zh"])
    return f"{text}\n\n{disclaimer}" if text else disclaimer


@dataclass
class Passage:
    """A quoted excerpt of a hit."""

    hit: Hit
    excerpt: str


@dataclass
class Answer:
    """Everything about one reply: what was asked, what was found, what is sent."""

    question: str
    lang: str
    refused: bool
    hits: list[Hit]
    passages: list[Passage] = field(default_factory=list)
    note: str | None = None  # e.g. the long-message notice, shown before the passages
    empty: bool = False
    emergency: str | None = None  # red-flag category (retrieval.safety); its notice comes first
    emergency_notice: str | None = None
    advice_notice: str | None = None  # "no personal advice", after the passages

    @property
    def text(self) -> str:
        """The plain-text reply, disclaimer last (what `articlebot ask` prints)."""
        return render_text(self)


def excerpt(text: str, question: str, limit: int) -> str:
    """The part of `text` that best answers `question`, at most about `limit` characters."""
    latin = _is_latin(text)
    # (line number, sentence): line breaks are kept so an inline heading stays on its own line
    sentences = [(n, s) for n, line in enumerate(text.split("\n")) for s in split_sentences(line)]
    if not sentences:
        return ""
    lo, hi = 0, len(sentences) - 1
    if len(text) > limit:
        q_terms = _terms(question)
        best = max(range(len(sentences)), key=lambda i: (len(q_terms & _terms(sentences[i][1])), -i))
        lo = hi = best
        size = len(sentences[best][1])
        grown = True
        while grown:
            grown = False
            if hi + 1 < len(sentences) and size + len(sentences[hi + 1][1]) <= limit:
                hi += 1
                size += len(sentences[hi][1])
                grown = True
            if lo > 0 and size + len(sentences[lo - 1][1]) <= limit:
                lo -= 1
                size += len(sentences[lo][1])
                grown = True
    body = sentences[lo][1]
    for (prev_line, _), (line, sentence) in zip(sentences[lo:hi], sentences[lo + 1 : hi + 1]):
        body += ("\n" if line != prev_line and not latin else " " if latin else "") + sentence
    ellipsis = "..." if latin else "…"
    if len(body) > limit:  # one sentence longer than the limit
        body = body[:limit].rstrip() + ellipsis
    return ("" if lo == 0 else ellipsis) + body + ("" if hi == len(sentences) - 1 else ellipsis)


def _is_latin(text: str) -> bool:
    return not re.search(r"[\u4e00-\u9fff]", text)


def _terms(text: str) -> set[str]:
    """Comparison terms: Chinese character bigrams and English words of 3+ letters."""
    key = fold(text)
    cjk = re.sub(r"[a-z0-9]+", " ", key)
    bigrams = {cjk[i : i + 2] for i in range(len(cjk) - 1) if " " not in cjk[i : i + 2]}
    words = set(re.findall(r"[a-z]{3,}", text.lower()))
    return bigrams | words


def compose(question: str, hits: list[Hit], lang: str, min_score: float, *, note: str | None = None) -> Answer:
    """Decide between quoting and refusing, and pick the passages to quote."""
    relevant = [h for h in hits if h.score >= min_score]
    if not relevant:
        return Answer(question, lang, refused=True, hits=hits, note=note)
    best = max(h.score for h in relevant)
    chosen = [h for h in relevant if h.score >= best - SECOND_PASSAGE_MARGIN][:MAX_PASSAGES]
    return Answer(question, lang, refused=False, hits=hits, passages=quote(chosen, question), note=note)


def compose_more(question: str, hits: list[Hit], lang: str, min_score: float, *, shown: set[str], page: int) -> Answer:
    """The next `page` relevant passages not quoted yet ("more")."""
    rest = [h for h in hits if h.chunk_id not in shown and h.score >= min_score][:page]
    return Answer(question, lang, refused=not rest, hits=hits, passages=quote(rest, question))


def quote(hits: list[Hit], question: str) -> list[Passage]:
    """The hits as passages, each trimmed to the part that answers the question."""
    limit = EXCERPT_CHARS["en" if all(_is_latin(h.text) for h in hits) else "zh"]
    return [Passage(h, excerpt(h.text, question, limit)) for h in hits]


def render_text(answer: Answer) -> str:
    """Plain-text rendering of an answer (terminal and CLI)."""
    lang = answer.lang
    parts: list[str] = []
    if answer.emergency_notice:
        parts.append(answer.emergency_notice)
    if answer.note:
        parts.append(answer.note)
    if answer.empty:
        parts.append(EMPTY_QUESTION[lang])
    elif answer.refused:
        if not answer.emergency:  # after an emergency notice, "not covered" would only distract
            parts.append(NOT_COVERED[lang])
    else:
        parts.append(INTRO[lang])
        for passage in answer.passages:
            hit = passage.hit
            lines = [f"📄 {hit.title or hit.article}", passage.excerpt]
            if hit.url:
                lines.append(f"🔗 {hit.url}")
            parts.append("\n".join(lines))
    if answer.advice_notice:
        parts.append(answer.advice_notice)
    return with_disclaimer("\n\n".join(parts), lang)
