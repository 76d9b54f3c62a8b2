"""Command handlers: /start, /help, /about, /ask, and unknown commands."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.addressing import in_group, lang_of, message_text, strip_command
from bot.telegram.context import services
from bot.telegram.questions import answer_question
from bot.telegram.sending import send_notice
from presentation import texts


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, list the articles the bot knows, say it is not a doctor."""
    lang = lang_of(update)
    info = services(context).service.library()
    topics = "\n".join(f"• {t}" for t in info.titles[:10])
    if len(info.titles) > 10:
        topics += "\n• …"
    text = texts.START[lang].format(topics=topics)
    await send_notice(context, update.effective_chat.id, text, lang)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain how to ask."""
    lang = lang_of(update)
    await send_notice(context, update.effective_chat.id, texts.HELP[lang], lang)


async def about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Corpus size and when it was last indexed."""
    lang = lang_of(update)
    info = services(context).service.library()
    text = texts.ABOUT[lang].format(articles=info.articles, chunks=info.chunks, indexed=info.indexed_at, model=info.model)
    await send_notice(context, update.effective_chat.id, text, lang)


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION: the way to ask in a group without a mention."""
    message = update.effective_message
    question = strip_command(message_text(message), "ask")
    if not question:
        lang = lang_of(update)
        await send_notice(context, message.chat_id, texts.ASK_USAGE[lang], lang, reply_to=message.message_id)
        return
    await answer_question(update, context, question)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown /command in a private chat gets the help text."""
    if not in_group(update):
        await help_command(update, context)
