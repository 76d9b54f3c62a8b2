"""Inline keyboards under answers, and the one codec for their callback data.

Callback data is `fb:<exchange id>:<up|down>` for feedback and `more:<exchange id>`
for further passages; `encode` and `parse` are the only places that know it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from presentation import texts

FEEDBACK = "fb"
MORE = "more"


@dataclass(frozen=True)
class Press:
    """A decoded button press: its kind, the exchange it belongs to, and for feedback "up" or "down"."""

    kind: str
    exchange_id: str
    value: str = ""


def encode(press: Press) -> str:
    """The callback data of a button."""
    return ":".join([press.kind, press.exchange_id, *([press.value] if press.value else [])])


def parse(data: str | None) -> Press | None:
    """A button's callback data decoded (None for data this bot did not write)."""
    kind, _, rest = (data or "").partition(":")
    if kind == FEEDBACK:
        exchange_id, _, value = rest.partition(":")
        return Press(FEEDBACK, exchange_id, value) if _EXCHANGE_ID.fullmatch(exchange_id) else None
    if kind == MORE:
        return Press(MORE, rest) if _EXCHANGE_ID.fullmatch(rest) else None
    return None


# Exchange ids are short hex strings (convlog.records); anything else was not written by this bot.
_EXCHANGE_ID = re.compile(r"[0-9a-f]{1,32}")


def _more_row(exchange_id: str, lang: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(texts.MORE_BUTTON[lang], callback_data=encode(Press(MORE, exchange_id)))]


def answer_keyboard(exchange_id: str, lang: str, *, choice: str | None = None, more: bool) -> InlineKeyboardMarkup:
    """👍 / 👎 (the chosen one ticked) and, when more passages remain, "more"."""
    buttons = []
    for value, face in (("up", "👍"), ("down", "👎")):
        label = face + (" ✓" if choice == value else "")
        buttons.append(InlineKeyboardButton(label, callback_data=encode(Press(FEEDBACK, exchange_id, value))))
    rows = [buttons]
    if more:
        rows.append(_more_row(exchange_id, lang))
    return InlineKeyboardMarkup(rows)


def more_keyboard(exchange_id: str, lang: str) -> InlineKeyboardMarkup:
    """Only the "more" button (under a further page of passages)."""
    return InlineKeyboardMarkup([_more_row(exchange_id, lang)])


def _presses(message: Message | None) -> list[Press]:
    """The decoded buttons under a sent message (none for other messages)."""
    markup = message.reply_markup if message else None
    rows = markup.inline_keyboard if markup else ()
    return [press for row in rows for b in row if (press := parse(b.callback_data)) is not None]


def shows_more_button(message: Message | None) -> bool:
    """Whether a sent message still carries a "more" button."""
    return any(press.kind == MORE for press in _presses(message))


def exchange_of(message: Message | None) -> str | None:
    """The exchange an answer message belongs to, read from its buttons (None for other messages)."""
    return next((press.exchange_id for press in _presses(message) if press.exchange_id), None)
