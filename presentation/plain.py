"""Plain-text replies: what the terminal chat and `articlebot ask` print, and what the log stores."""

from __future__ import annotations

from presentation.reply import (
    PASSAGE,
    answer_blocks,
    answer_language,
    excerpt_of,
    title_of,
)
from presentation.texts import disclaimer
from retrieval.records import Answer, Passage


def with_disclaimer(text: str, lang: str) -> str:
    """Append the see-a-doctor disclaimer (in `lang`) to any message text."""
    text = text.rstrip()
    return f"{text}\n\n{disclaimer(lang)}" if text else disclaimer(lang)


def passage_text(passage: Passage) -> str:
    """A quoted passage: the article title, the excerpt, the source URL when known."""
    hit = passage.hit
    lines = [f"📄 {title_of(passage)}", excerpt_of(passage)]
    if hit.url:
        lines.append(f"🔗 {hit.url}")
    return "\n".join(lines)


def render_text(answer: Answer) -> str:
    """The plain-text reply to an answer, disclaimer last."""
    lang = answer_language(answer)
    parts = [passage_text(b.passage) if b.kind == PASSAGE else b.text for b in answer_blocks(answer, lang=lang)]
    return with_disclaimer("\n\n".join(parts), lang)
