"""Telegram handlers: commands, questions, buttons, non-text messages and errors.

Every message sent from here goes through `send_html` with paragraphs built by
`bot.render`, which puts the disclaimer last; nothing is sent any other way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ContextTypes

from bot import messages as M
from bot.convlog import ConversationLog, Recent, record_of
from bot.pipeline import LibraryInfo
from bot.ratelimit import RateLimiter
from bot.render import answer_paragraphs, text_paragraphs, with_disclaimer_html
from retrieval.answer import Pipeline
from retrieval.compose import Answer

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 3
SEND_BACKOFF = 0.5  # seconds, doubled per attempt, for transient network errors
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass
class Services:
    """What the handlers need, stored in `application.bot_data["services"]`."""

    pipeline: Pipeline
    log: ConversationLog | None
    limiter: RateLimiter
    library: Callable[[], LibraryInfo]
    admins: frozenset[int] = frozenset()
    reindex_command: tuple[str, ...] = (sys.executable, "-m", "bot", "index", "--json")


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


def lang_of(update: Update, text: str | None = None) -> str:
    user = update.effective_user
    return M.user_language(text, user.language_code if user else None)


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


def _keyboard(exchange_id: str, lang: str, *, choice: str | None = None, more: bool) -> InlineKeyboardMarkup:
    up = "👍" + (" ✓" if choice == "up" else "")
    down = "👎" + (" ✓" if choice == "down" else "")
    rows = [[InlineKeyboardButton(up, callback_data=f"fb:{exchange_id}:up"), InlineKeyboardButton(down, callback_data=f"fb:{exchange_id}:down")]]
    if more:
        rows.append([InlineKeyboardButton(M.MORE_BUTTON[lang], callback_data=f"more:{exchange_id}")])
    return InlineKeyboardMarkup(rows)


def _has_more(answer: Answer, shown: tuple[str, ...], min_score: float) -> bool:
    """Whether a relevant hit not quoted yet remains (worth a "more" button)."""
    return not answer.refused and any(h.chunk_id not in shown and h.score >= min_score for h in answer.hits)


def _shows_more_button(message: Message | None) -> bool:
    markup = message.reply_markup if message else None
    return bool(markup) and any(b.callback_data.startswith("more:") for row in markup.inline_keyboard for b in row)


# --- commands ---------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, list the articles the bot knows, say it is not a doctor."""
    lang = lang_of(update)
    info = services(context).library()
    topics = "\n".join(f"• {t}" for t in info.titles[:10])
    if len(info.titles) > 10:
        topics += "\n• …"
    text = M.START[lang].format(topics=topics, example=M.EXAMPLE[lang])
    await send_html(context, update.effective_chat.id, text_paragraphs(text), lang)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain how to ask."""
    lang = lang_of(update)
    await send_html(context, update.effective_chat.id, text_paragraphs(M.HELP[lang]), lang)


async def about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Corpus size and when it was last indexed."""
    lang = lang_of(update)
    info = services(context).library()
    text = M.ABOUT[lang].format(articles=info.articles, chunks=info.chunks, indexed=info.indexed_at, model=info.model)
    await send_html(context, update.effective_chat.id, text_paragraphs(text), lang)


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION: the way to ask in a group without a mention."""
    message = update.effective_message
    question = re.sub(r"^/ask(@\w+)?", "", message.text or "", count=1).strip()
    if not question:
        lang = lang_of(update)
        await send_html(context, message.chat_id, text_paragraphs(M.ASK_USAGE[lang]), lang, reply_to=message.message_id)
        return
    await answer_question(update, context, question)


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex (operators only): re-index the corpus in a separate process; the bot switches when it is done."""
    svc = services(context)
    lang = lang_of(update)
    chat_id = update.effective_chat.id
    user = update.effective_user
    if not user or user.id not in svc.admins:
        await send_html(context, chat_id, text_paragraphs(M.REINDEX_DENIED[lang]), lang)
        return
    await send_html(context, chat_id, text_paragraphs(M.REINDEX_STARTED[lang]), lang)
    proc = await asyncio.create_subprocess_exec(
        *svc.reindex_command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode == 0:
        figures = json.loads(out.decode().strip().splitlines()[-1])
        await asyncio.to_thread(svc.pipeline.searcher.refresh, force=True)
        text = M.REINDEX_DONE[lang].format(**figures)
    else:
        lines = err.decode(errors="replace").strip().splitlines() or ["unknown error"]
        text = M.REINDEX_FAILED[lang].format(reason=lines[-1].removeprefix("Error: "))
    await send_html(context, chat_id, text_paragraphs(text), lang)


# --- messages ---------------------------------------------------------------


def _in_group(update: Update) -> bool:
    return update.effective_chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def _strip_mention(message: Message, username: str) -> tuple[str, bool]:
    """The text without "@botname" mentions, and whether the bot was mentioned."""
    text = message.text or ""
    mention = f"@{username}".lower()
    mentioned = any(
        e.type == MessageEntityType.MENTION and message.parse_entity(e).lower() == mention for e in message.entities or ()
    )
    if mentioned:
        text = re.sub(re.escape(f"@{username}"), " ", text, flags=re.IGNORECASE)
    return text.strip(), mentioned


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message: answer it (in groups only when the bot is addressed)."""
    message = update.effective_message
    text, mentioned = _strip_mention(message, context.bot.username)
    if _in_group(update) and not (mentioned or _replies_to_bot(message, context.bot.id)):
        return
    await answer_question(update, context, text)


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice, files...: say politely that the bot reads text."""
    message = update.effective_message
    if _in_group(update) and not _replies_to_bot(message, context.bot.id):
        return
    lang = lang_of(update, message.caption)
    await send_html(context, message.chat_id, text_paragraphs(M.NON_TEXT[lang]), lang, reply_to=message.message_id)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown /command in a private chat gets the help text."""
    if not _in_group(update):
        await help_command(update, context)


TYPING_AFTER = 1.0  # seconds before "typing…" is shown; most answers are sent sooner


async def _with_typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int, work):
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


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Search off the event loop and reply with passages, buttons and the disclaimer."""
    svc = services(context)
    message = update.effective_message
    chat = update.effective_chat
    user = update.effective_user
    wait = svc.limiter.check(user.id if user else chat.id)
    if wait:
        lang = lang_of(update, question)
        await send_html(context, chat.id, text_paragraphs(M.RATE_LIMITED[lang].format(seconds=wait)), lang, reply_to=message.message_id)
        return
    started = time.monotonic()
    answer = await _with_typing(context, chat.id, asyncio.to_thread(svc.pipeline.answer, question))
    if answer.empty:
        answer.lang = lang_of(update)
    meta = svc.pipeline.searcher.index.meta
    entry = record_of(
        answer,
        channel="telegram",
        latency_ms=0,
        model=meta.model,
        index_version=meta.version,
        user_id=svc.log.user(user.id) if svc.log and user else None,
        chat_type=chat.type,
    )
    shown = tuple(p.hit.chunk_id for p in answer.passages)
    more = svc.log is not None and _has_more(answer, shown, svc.pipeline.min_score)  # "more" recalls from the log
    if svc.log:
        svc.log.remember(entry.id, Recent(answer.question, answer.lang, shown))  # before any button can be pressed
    markup = _keyboard(entry.id, answer.lang, more=more)
    await send_html(context, chat.id, answer_paragraphs(answer), answer.lang, markup=markup, reply_to=message.message_id)
    entry.latency_ms = round((time.monotonic() - started) * 1000)
    if svc.log:
        await asyncio.to_thread(svc.log.record, entry)  # after the reply: the log never delays or breaks it


# --- buttons ----------------------------------------------------------------


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍 / 👎 record feedback and show the choice; "more" sends the next passages."""
    query = update.callback_query
    svc = services(context)
    kind, _, rest = (query.data or "").partition(":")
    if kind == "fb":
        exchange_id, _, value = rest.partition(":")
        exchange = svc.log.recall(exchange_id) if svc.log else None
        lang = exchange.lang if exchange else lang_of(update)
        if svc.log and value in ("up", "down"):
            await asyncio.to_thread(svc.log.feedback, exchange_id, value)
        await query.answer(M.FEEDBACK_THANKS[lang])
        try:
            markup = _keyboard(exchange_id, lang, choice=value, more=_shows_more_button(query.message))
            await query.edit_message_reply_markup(markup)
        except BadRequest:  # "message is not modified" when the same button is pressed twice
            pass
        return
    if kind == "more":
        exchange_id = rest
        exchange = svc.log.recall(exchange_id) if svc.log else None
        if exchange is None:
            lang = lang_of(update)
            await query.answer(M.EXPIRED[lang], show_alert=False)
            return
        await query.answer()
        answer = await asyncio.to_thread(svc.pipeline.more, exchange.question, exchange.lang, exchange.shown)
        exchange = Recent(exchange.question, exchange.lang, exchange.shown + tuple(p.hit.chunk_id for p in answer.passages))
        svc.log.remember(exchange_id, exchange)
        paragraphs = text_paragraphs(M.NO_MORE[exchange.lang]) if answer.refused else answer_paragraphs(answer, more=True)
        more = _has_more(answer, exchange.shown, svc.pipeline.min_score)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(M.MORE_BUTTON[exchange.lang], callback_data=f"more:{exchange_id}")]]) if more else None
        await send_html(context, query.message.chat_id, paragraphs, exchange.lang, markup=markup)
        return
    await query.answer()


# --- errors -----------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the traceback and tell the user something polite (with the disclaimer)."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat:
        lang = lang_of(update, update.effective_message.text if update.effective_message else None)
        try:
            await send_html(context, update.effective_chat.id, text_paragraphs(M.ERROR[lang]), lang)
        except Exception:  # noqa: BLE001 - the error handler must not raise
            log.exception("could not tell the user about the error")
