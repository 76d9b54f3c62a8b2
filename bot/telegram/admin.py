"""Operator commands: /reindex re-indexes the corpus in a separate process; the bot switches when it is done."""

from __future__ import annotations

import asyncio
import json

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.addressing import lang_of
from bot.telegram.context import services
from bot.telegram.sending import send_notice
from presentation import texts


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex (operators only): re-index the corpus in a separate process; the bot switches when it is done."""
    svc = services(context)
    lang = lang_of(update)
    chat_id = update.effective_chat.id
    user = update.effective_user
    if not user or user.id not in svc.admins:
        await send_notice(context, chat_id, texts.REINDEX_DENIED[lang], lang)
        return
    await send_notice(context, chat_id, texts.REINDEX_STARTED[lang], lang)
    proc = await asyncio.create_subprocess_exec(
        *svc.reindex_command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode == 0:
        figures = json.loads(out.decode().strip().splitlines()[-1])
        await asyncio.to_thread(svc.pipeline.searcher.refresh, force=True)
        text = texts.REINDEX_DONE[lang].format(**figures)
    else:
        lines = err.decode(errors="replace").strip().splitlines() or ["unknown error"]
        text = texts.REINDEX_FAILED[lang].format(reason=lines[-1].removeprefix("Error: "))
    await send_notice(context, chat_id, text, lang)
