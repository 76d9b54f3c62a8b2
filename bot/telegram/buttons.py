"""Button handlers: 👍 / 👎 record feedback and show the choice; "more" sends the next passages."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.telegram.addressing import lang_of
from bot.telegram.context import services
from bot.telegram.keyboards import (
    FEEDBACK,
    MORE,
    answer_keyboard,
    more_keyboard,
    parse,
    shows_more_button,
)
from bot.telegram.questions import conversation_of
from bot.telegram.sending import send_html
from presentation import texts
from presentation.telegram_html import answer_paragraphs, text_paragraphs


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Dispatch a button press by its callback data."""
    query = update.callback_query
    press = parse(query.data)
    if press is not None and press.kind == FEEDBACK:
        await _feedback(update, context, press.exchange_id, press.value)
    elif press is not None and press.kind == MORE:
        await _more(update, context, press.exchange_id)
    else:
        await query.answer()


async def _feedback(update: Update, context: ContextTypes.DEFAULT_TYPE, exchange_id: str, value: str) -> None:
    """Record 👍 / 👎 and tick the chosen button."""
    query = update.callback_query
    svc = services(context)
    exchange = svc.recent.recall(exchange_id)
    lang = exchange.lang if exchange else lang_of(update)
    if svc.log and value in ("up", "down"):
        await asyncio.to_thread(svc.log.feedback, exchange_id, value)
    await query.answer(texts.FEEDBACK_THANKS[lang])
    try:
        markup = answer_keyboard(exchange_id, lang, choice=value, more=shows_more_button(query.message))
        await query.edit_message_reply_markup(markup)
    except BadRequest:  # "message is not modified" when the same button is pressed twice
        pass


async def _more(update: Update, context: ContextTypes.DEFAULT_TYPE, exchange_id: str) -> None:
    """Send the next relevant passages of an answer, or say there are none."""
    query = update.callback_query
    svc = services(context)
    exchange = svc.recent.recall(exchange_id)
    if exchange is None:
        await query.answer(texts.EXPIRED[lang_of(update)], show_alert=False)
        return
    await query.answer()
    answer = await asyncio.to_thread(svc.pipeline.more, exchange.question, exchange.lang, exchange.shown)
    exchange = replace(exchange, shown=exchange.shown + tuple(p.hit.chunk_id for p in answer.passages))
    svc.recent.remember(exchange_id, exchange)
    conversation = conversation_of(update)
    if svc.service.conversations.context(conversation) == exchange.question:  # a typed "还有呢" goes on from here
        svc.service.conversations.quoted_more(conversation, exchange.shown, [p.focus for p in answer.passages])
    lang = texts.reply_language(exchange.lang, exchange.written)  # traditional characters for who writes them
    paragraphs = text_paragraphs(texts.say(texts.NO_MORE, lang)) if answer.refused else answer_paragraphs(answer, more=True, lang=lang)
    further = not answer.refused and await asyncio.to_thread(svc.pipeline.has_more, exchange.question, exchange.lang, exchange.shown)
    markup = more_keyboard(exchange_id, exchange.lang) if further else None
    await send_html(context, query.message.chat_id, paragraphs, lang, markup=markup)
