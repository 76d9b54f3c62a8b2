"""Message handlers: a question is answered (search off the event loop), then logged; other
messages get a polite note that the bot reads text."""

from __future__ import annotations

import asyncio
import time

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.addressing import (
    in_group,
    lang_of,
    message_text,
    replies_to_bot,
    strip_mention,
)
from bot.telegram.context import services
from bot.telegram.keyboards import answer_keyboard, exchange_of
from bot.telegram.sending import send_html, send_notice, with_typing
from convlog import ExchangeBrief
from presentation import texts
from presentation.reply import answer_language
from presentation.telegram_html import answer_paragraphs


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message: answer it (in groups only when the bot is addressed)."""
    message = update.effective_message
    text, mentioned = strip_mention(message, context.bot.username)
    if in_group(update) and not (mentioned or replies_to_bot(message, context.bot.id)):
        return
    await answer_question(update, context, text)


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice, files...: say politely that the bot reads text."""
    message = update.effective_message
    if in_group(update) and not replies_to_bot(message, context.bot.id):
        return
    lang = lang_of(update, message_text(message))
    await send_notice(context, message.chat_id, texts.NON_TEXT[lang], lang, reply_to=message.message_id)


def conversation_of(update: Update) -> tuple:
    """A private chat is one conversation; in a group, each member has their own."""
    chat, user = update.effective_chat, update.effective_user
    return ("telegram", chat.id, user.id if user else None) if in_group(update) else ("telegram", chat.id)


def replied_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """For a reply to one of the bot's answers: the question that answer was for (as searched)."""
    message = update.effective_message
    if not replies_to_bot(message, context.bot.id):
        return None
    exchange_id = exchange_of(message.reply_to_message)
    brief = services(context).recent.recall(exchange_id) if exchange_id else None
    return brief.question if brief else None


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Answer off the event loop, reply with passages, buttons and the disclaimer, then log it."""
    svc = services(context)
    message = update.effective_message
    chat = update.effective_chat
    user = update.effective_user
    wait = svc.limiter.check(user.id if user else chat.id)
    if wait:
        lang = lang_of(update, question)
        await send_notice(context, chat.id, texts.RATE_LIMITED[lang].format(seconds=wait), lang, reply_to=message.message_id)
        return
    started = time.monotonic()
    # the question a reply is to may be read from the log: off the event loop, and only for replies
    replied = await asyncio.to_thread(replied_question, update, context) if replies_to_bot(message, context.bot.id) else None
    work = asyncio.to_thread(
        svc.service.answer, question, channel="telegram", user=user.id if user else None, chat_type=chat.type,
        lang_hint=lang_of(update), started=started, conversation=conversation_of(update),
        context=replied,
    )  # fmt: skip
    exchange = await with_typing(context, chat.id, work)
    answer = exchange.answer
    shown = tuple(p.hit.chunk_id for p in answer.passages)
    turn = svc.service.conversations.last(conversation_of(update)) if answer.more else None
    if turn is not None:  # "还有呢" typed: its button goes on from all the question's passages quoted so far
        brief = ExchangeBrief(turn.searched, turn.lang, turn.shown, answer.question)
    else:
        brief = ExchangeBrief(answer.searched or answer.question, answer.lang, shown, answer.question)
    # "more" is offered only when exchanges are logged (as before the memory moved here)
    more = (svc.log is not None and not answer.refused and not answer.emergency
            and await asyncio.to_thread(svc.pipeline.has_more, brief.question, brief.lang, brief.shown))
    svc.recent.remember(exchange.id, brief)  # before any button can be pressed
    # under an emergency notice nothing invites browsing or rating: the one thing to do is get help;
    # a reply to a thank-you, a greeting or an empty message has nothing to rate either
    markup = None if answer.emergency or answer.social or answer.empty else answer_keyboard(exchange.id, answer.lang, more=more)
    try:
        await send_html(context, chat.id, answer_paragraphs(answer), answer_language(answer), markup=markup,
                        reply_to=message.message_id)  # fmt: skip
    except Exception as exc:  # retries spent (429s, network) or refused: logged all the same, then reported
        exchange.undelivered(f"{type(exc).__name__}: {exc}")
        raise
    finally:  # after the reply (or its failure): the log never delays or breaks it
        await asyncio.to_thread(svc.service.record, exchange)
