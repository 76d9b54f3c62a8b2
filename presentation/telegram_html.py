"""Telegram HTML for answers and notices.

Everything that comes from a user or an article is escaped; the only tags are the
ones written here (b, i, a, blockquote), each opened and closed inside one
paragraph. A message longer than Telegram's limit is split between paragraphs,
so every part is valid HTML on its own, and every part ends with the disclaimer
(each message the bot sends does, whatever the article). Lengths are counted as Telegram counts them, in UTF-16
code units (an emoji is two); a single paragraph too long for one message (an
article with no paragraph breaks) is sent as plain text in pieces.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

from presentation.reply import (
    ADVICE,
    EMERGENCY,
    NOTE,
    PASSAGE,
    TEXT,
    answer_blocks,
    excerpt_of,
    title_of,
)
from presentation.texts import disclaimer
from retrieval.records import Answer, Passage

TELEGRAM_LIMIT = 4096
PART_LIMIT = 4000  # a margin under Telegram's limit
PARAGRAPH_LIMIT = 3000  # longer raw paragraphs are cut before escaping


def esc(text: str) -> str:
    """Escape text for Telegram HTML."""
    return html.escape(text, quote=False)


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        return None
    return html.escape(url, quote=True)


def passage_html(passage: Passage) -> str:
    """One quoted passage: the article title (a link when its URL is known), then the excerpt."""
    hit = passage.hit
    title = esc(title_of(passage))
    url = _safe_url(hit.url)
    head = f'📄 <a href="{url}">{title}</a>' if url else f"📄 <b>{title}</b>"
    return f"{head}\n<blockquote>{excerpt_html(excerpt_of(passage), passage.focus)}</blockquote>"


def excerpt_html(excerpt: str, focus: str) -> str:
    """The excerpt escaped, the sentence that answers in bold."""
    at = excerpt.find(focus) if focus else -1
    if at < 0:
        return esc(excerpt)
    end = at + len(focus)
    return f"{esc(excerpt[:at])}<b>{esc(focus)}</b>{esc(excerpt[end:])}"


_STYLE = {EMERGENCY: "<b>{}</b>", NOTE: "<i>{}</i>", TEXT: "{}", ADVICE: "<i>{}</i>"}


def answer_paragraphs(answer: Answer, *, more: bool = False, lang: str | None = None) -> list[str]:
    """The HTML paragraphs of an answer, disclaimer excluded (`lang`: the reply language,
    presentation.reply.answer_language by default)."""
    return [
        passage_html(b.passage) if b.kind == PASSAGE else _STYLE[b.kind].format(esc(b.text))
        for b in answer_blocks(answer, more=more, lang=lang)
    ]


def with_disclaimer_html(paragraphs: list[str], lang: str) -> list[str]:
    """Telegram message parts for HTML paragraphs, each ending with the disclaimer."""
    closing = f"<i>{esc(disclaimer(lang))}</i>"
    parts = split_parts(paragraphs, PART_LIMIT - units(closing) - 2) or [""]
    return [f"{part}\n\n{closing}" if part else closing for part in parts]


def text_paragraphs(text: str) -> list[str]:
    """Plain text (e.g. a notice) as escaped HTML paragraphs, long ones cut."""
    out = []
    for paragraph in text.split("\n\n"):
        for start in range(0, max(len(paragraph), 1), PARAGRAPH_LIMIT):
            piece = paragraph[start : start + PARAGRAPH_LIMIT]
            if piece.strip():
                out.append(esc(piece))
    return out


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def split_parts(paragraphs: list[str], limit: int = PART_LIMIT) -> list[str]:
    """Pack paragraphs into messages of at most `limit` UTF-16 units, splitting between
    paragraphs (and a paragraph longer than a message into plain pieces)."""
    parts: list[str] = []
    current = ""
    for paragraph in (piece for p in paragraphs for piece in _fitting(p, limit)):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if units(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = paragraph
    if current:
        parts.append(current)
    return parts


_TAG_RE = re.compile(r"<[^>]*>")


def _fitting(paragraph: str, limit: int) -> list[str]:
    """The paragraph, or, when it alone is over the limit, its text without markup cut into
    escaped pieces that each fit (never a broken tag or entity)."""
    if units(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    current, size = [], 0
    for ch in html.unescape(_TAG_RE.sub("", paragraph)):
        cost = units(esc(ch))
        if size + cost > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(esc(ch))
        size += cost
    pieces.append("".join(current))
    return [p for p in pieces if p.strip()]
