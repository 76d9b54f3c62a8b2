"""Who a message is for and which language to answer in: group rules and the reply language.

In a group the bot answers only when it is mentioned, replied to, or asked with /ask.
"""

from __future__ import annotations

import re

from telegram import Message, Update
from telegram.constants import ChatType, MessageEntityType

from common.text import clean_input, replace_surrogates
from presentation.texts import user_language


def lang_of(update: Update, text: str | None = None) -> str:
    """The reply language: the text's script first, then the user's Telegram language."""
    user = update.effective_user
    return user_language(text, user.language_code if user else None)


def in_group(update: Update) -> bool:
    """Whether the update comes from a group or supergroup."""
    return update.effective_chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """Whether the message replies to one of the bot's own messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def message_text(message: Message) -> str:
    """The message's text (or a caption) cleaned once, on arrival (common.text.clean_input):
    whatever its bytes, nothing after this sees a lone surrogate or a control character."""
    return clean_input(message.text or message.caption or "")


def _entity_text(text: str, offset: int, length: int) -> str:
    """An entity's text; Telegram counts UTF-16 code units (python-telegram-bot's own
    parse_entity raises on a lone surrogate, so this works on the repaired text)."""
    units = replace_surrogates(text).encode("utf-16-le")
    return units[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def strip_mention(message: Message, username: str) -> tuple[str, bool]:
    """The cleaned text without "@botname" mentions, and whether the bot was mentioned."""
    mention = f"@{username}".lower()
    mentioned = any(
        e.type == MessageEntityType.MENTION and _entity_text(message.text or "", e.offset, e.length).lower() == mention
        for e in message.entities or ()
    )
    text = message_text(message)
    if mentioned:
        text = re.sub(re.escape(f"@{username}"), " ", text, flags=re.IGNORECASE)
    return text.strip(), mentioned


def strip_command(text: str, command: str) -> str:
    """The text after "/command" or "/command@botname"."""
    return re.sub(rf"^/{command}(@\w+)?", "", text or "", count=1).strip()
