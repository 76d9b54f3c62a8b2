"""The one decision tree of a reply: which blocks an answer is made of, in order.

Both renderers walk these blocks (`presentation.plain` for the terminal, the CLI
and the log; `presentation.telegram_html` for Telegram), so what a reply says
never depends on where it is shown. The disclaimer is not a block: each renderer
appends it last, to every message.
"""

from __future__ import annotations

from dataclasses import dataclass

from presentation.texts import EMPTY_QUESTION, INTRO, NOT_COVERED, TRUNCATED_NOTE
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


def answer_blocks(answer: Answer, *, more: bool = False) -> list[Block]:
    """The blocks of a reply to `answer`; `more` for a further page of passages (no intro, no notices)."""
    lang = answer.lang
    blocks: list[Block] = []
    if answer.safety.emergency and answer.safety.notices and not more:
        blocks.append(Block(EMERGENCY, answer.safety.notices[lang]))
    if answer.truncated_at:
        blocks.append(Block(NOTE, TRUNCATED_NOTE[lang].format(n=answer.truncated_at)))
    if answer.empty:
        blocks.append(Block(TEXT, EMPTY_QUESTION[lang]))
    elif answer.refused:
        if not answer.emergency:  # after an emergency notice, "not covered" would only distract
            blocks.append(Block(TEXT, NOT_COVERED[lang]))
    else:
        if not more:
            blocks.append(Block(TEXT, INTRO[lang]))
        blocks.extend(Block(PASSAGE, passage=p) for p in answer.passages)
    if answer.safety.advice and answer.safety.advice_notices:
        blocks.append(Block(ADVICE, answer.safety.advice_notices[lang]))
    return blocks
