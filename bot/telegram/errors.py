"""The error handler: log the traceback, tell the user something polite (with the disclaimer)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.addressing import lang_of, message_text
from bot.telegram.sending import send_notice
from presentation import texts

log = logging.getLogger(__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the traceback and tell the user something polite (with the disclaimer)."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat:
        lang = lang_of(update, message_text(update.effective_message) if update.effective_message else None)
        try:
            await send_notice(context, update.effective_chat.id, texts.ERROR[lang], lang)
        except Exception:  # noqa: BLE001 - the error handler must not raise
            log.exception("could not tell the user about the error")
