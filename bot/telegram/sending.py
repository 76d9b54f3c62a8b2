"""Sending: every message goes out here, as HTML with the disclaimer last, retried on network errors.

Paragraphs come from `presentation.telegram_html`, which appends the disclaimer and
splits long replies; nothing is sent any other way.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ContextTypes

from presentation.telegram_html import text_paragraphs, with_disclaimer_html

SEND_ATTEMPTS = 3
SEND_BACKOFF = 0.5  # seconds, doubled per attempt, for transient network errors
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_AFTER = 1.0  # seconds before "typing…" is shown; most answers are sent sooner


async def _retry(call):
    """Run an API call, retrying transient network errors (429s are retried by the rate limiter)."""
    for attempt in range(SEND_ATTEMPTS):
        try:
            return await call()
        except (TimedOut, NetworkError) as exc:
            if isinstance(exc, (BadRequest, Forbidden, RetryAfter)) or attempt == SEND_ATTEMPTS - 1:
                raise
            await asyncio.sleep(SEND_BACKOFF * 2**attempt)


async def send_html(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    paragraphs: list[str],
    lang: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    reply_to: int | None = None,
) -> Message:
    """Send paragraphs (disclaimer appended, split under the size limit); buttons go on the last part."""
    parts = with_disclaimer_html(paragraphs, lang)
    sent = None
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        sent = await _retry(
            lambda part=part, last=last, first=(n == 0): context.bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and first else None,
                link_preview_options=NO_PREVIEW,
            )
        )
    return sent


async def send_notice(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str, lang: str, *, reply_to: int | None = None) -> Message:
    """Send a plain-text notice (escaped, with the disclaimer)."""
    return await send_html(context, chat_id, text_paragraphs(text), lang, reply_to=reply_to)


async def with_typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int, work):
    """Await `work`, showing "typing…" only if it takes a while.

    Every API call counts against Telegram's ~30 requests a second (AIORateLimiter
    enforces it), so a chat action before each quick answer would halve how many
    users are answered per second under load.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=TYPING_AFTER)
    if not done:
        try:
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except (NetworkError, BadRequest, Forbidden):
            pass  # only a courtesy
    return await task
