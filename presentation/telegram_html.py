"""Telegram HTML for answers and notices.

Everything that comes from a user or an article is escaped; the only tags are the
ones written here (b, i, a, blockquote), each opened and closed inside one
paragraph. A message longer than Telegram's limit is split between paragraphs,
so every part is valid HTML on its own, and the disclaimer is always the last
paragraph of the last part.
"""

from __future__ import annotations

import html
from urllib.parse import urlparse

from presentation.reply import ADVICE, EMERGENCY, NOTE, PASSAGE, TEXT, answer_blocks
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
    title = esc(hit.title or hit.article)
    url = _safe_url(hit.url)
    head = f'📄 <a href="{url}">{title}</a>' if url else f"📄 <b>{title}</b>"
    return f"{head}\n<blockquote>{excerpt_html(passage.excerpt, passage.focus)}</blockquote>"


def excerpt_html(excerpt: str, focus: str) -> str:
    """The excerpt escaped, the sentence that answers in bold."""
    at = excerpt.find(focus) if focus else -1
    if at < 0:
        return esc(excerpt)
    end = at + len(focus)
    return f"{esc(excerpt[:at])}<b>{esc(focus)}</b>{esc(excerpt[end:])}"


_STYLE = {EMERGENCY: "<b>{}</b>", NOTE: "<i>{}</i>", TEXT: "{}", ADVICE: "<i>{}</i>"}


def answer_paragraphs(answer: Answer, *, more: bool = False) -> list[str]:
    """The HTML paragraphs of an answer, disclaimer excluded."""
    return [
        passage_html(b.passage) if b.kind == PASSAGE else _STYLE[b.kind].format(esc(b.text))
        for b in answer_blocks(answer, more=more)
    ]


def with_disclaimer_html(paragraphs: list[str], lang: str) -> list[str]:
    """Telegram message parts for HTML paragraphs, the disclaimer last."""
    return split_parts([*paragraphs, f"<i>{esc(disclaimer(lang))}</i>"])


def text_paragraphs(text: str) -> list[str]:
    """Plain text (e.g. a notice) as escaped HTML paragraphs, long ones cut."""
    out = []
    for paragraph in text.split("\n\n"):
        for start in range(0, max(len(paragraph), 1), PARAGRAPH_LIMIT):
            piece = paragraph[start : start + PARAGRAPH_LIMIT]
            if piece.strip():
                out.append(esc(piece))
    return out


def split_parts(paragraphs: list[str], limit: int = PART_LIMIT) -> list[str]:
    """Pack paragraphs into messages of at most `limit` characters, splitting only between paragraphs."""
    parts: list[str] = []
    current = ""
    for paragraph in paragraphs:
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = paragraph
    if current:
        parts.append(current)
    return parts
