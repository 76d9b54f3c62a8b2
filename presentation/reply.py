"""The one decision tree of a reply: which blocks an answer is made of, in order.

Both renderers walk these blocks (`presentation.plain` for the terminal, the CLI
and the log; `presentation.telegram_html` for Telegram), so what a reply says
never depends on where it is shown. The disclaimer is not a block: each renderer
appends it last, to every message.
"""

from __future__ import annotations

from dataclasses import dataclass

from presentation.texts import (
    EMPTY_QUESTION,
    INTRO,
    INTRO_OTHER_LANGUAGE,
    INTRO_SOME_OTHER_LANGUAGE,
    LANGUAGE_NAMES,
    NO_MORE,
    NOT_COVERED,
    NOT_COVERED_BECAUSE,
    SOCIAL,
    TRUNCATED_NOTE,
    reply_language,
    say,
)
from retrieval.records import Answer, Passage

EMERGENCY = "emergency"  # get help now: always first
NOTE = "note"  # about the message itself (it was cut)
TEXT = "text"  # a sentence of the reply
PASSAGE = "passage"  # a quoted excerpt with its source
ADVICE = "advice"  # no personal diagnosis or dose: after the passages


@dataclass
class Block:
    """One part of a reply: a sentence of a kind, or a quoted passage."""

    kind: str
    text: str = ""
    passage: Passage | None = None


TITLE_LIMIT = 120  # characters of an article title shown above a quote (a scraped "title" can be a whole page)


def title_of(passage: Passage) -> str:
    """The source's title as shown (its file name when it has none), shortened with "…" when long."""
    title = " ".join((passage.hit.title or passage.hit.article).split())
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1].rstrip() + "…"


EXCERPT_LIMIT = 1500  # characters of a quote; a longer one (an article without paragraph breaks) is cut


def excerpt_of(passage: Passage) -> str:
    """The quote as shown: the excerpt, or when it is over EXCERPT_LIMIT a window of it that
    keeps the sentence that answers (`passage.focus`) whole, "…" marking each cut."""
    text = passage.excerpt
    if len(text) <= EXCERPT_LIMIT:
        return text
    at = text.find(passage.focus) if passage.focus else -1
    start = max(0, min(at - EXCERPT_LIMIT // 5, len(text) - EXCERPT_LIMIT)) if at > 0 else 0
    end = max(start + EXCERPT_LIMIT, at + len(passage.focus) if at >= 0 else 0)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def answer_language(answer: Answer) -> str:
    """The language of the bot's own sentences in the reply to `answer` (texts.reply_language:
    traditional characters for a message written in them)."""
    return reply_language(answer.lang, answer.question)


def intro(answer: Answer, lang: str) -> str:
    """The sentence before the quotes, in reply language `lang`: it says so when the articles
    quoted are in another language than the question ("Can I get botox while pregnant?" is
    answered from Chinese articles, and quotes are never translated)."""
    langs = [p.hit.lang for p in answer.passages]
    others = [name for name in dict.fromkeys(langs) if name != answer.lang and name in LANGUAGE_NAMES]
    if not others:
        return say(INTRO, lang)
    table = INTRO_OTHER_LANGUAGE if all(name in others for name in langs) else INTRO_SOME_OTHER_LANGUAGE
    names = (" and " if lang == "en" else "、").join(say(LANGUAGE_NAMES[name], lang) for name in others)
    return say(table, lang).format(language=names)


def answer_blocks(answer: Answer, *, more: bool = False, lang: str | None = None) -> list[Block]:
    """The blocks of a reply to `answer`; `more` for a further page of passages (no intro, no notices).
    `lang`: the reply language (default: answer_language); quotes keep the article's characters."""
    lang = lang or answer_language(answer)
    blocks: list[Block] = []
    if answer.safety.emergency and answer.safety.notices and not more:
        blocks.append(Block(EMERGENCY, say(answer.safety.notices, lang)))
    if answer.truncated_at:
        blocks.append(Block(NOTE, say(TRUNCATED_NOTE, lang).format(n=answer.truncated_at)))
    if answer.empty:
        blocks.append(Block(TEXT, say(EMPTY_QUESTION, lang)))
    elif answer.social:
        blocks.append(Block(TEXT, say(SOCIAL[answer.social], lang)))
    elif answer.refused:
        if answer.more and not answer.emergency:  # "还有呢" after the last relevant passage, or with nothing before it
            blocks.append(Block(TEXT, say(NO_MORE if answer.searched else EMPTY_QUESTION, lang)))
        elif not answer.emergency:  # after an emergency notice, "not covered" would only distract
            blocks.append(Block(TEXT, say(NOT_COVERED_BECAUSE.get(answer.unmet, NOT_COVERED), lang)))
    else:
        if not more:
            blocks.append(Block(TEXT, intro(answer, lang)))
        blocks.extend(Block(PASSAGE, passage=p) for p in answer.passages)
    if answer.safety.advice and answer.safety.advice_notices:
        blocks.append(Block(ADVICE, say(answer.safety.advice_notices, lang)))
    return blocks
