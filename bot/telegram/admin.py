"""Operator commands: /reindex re-indexes the corpus in a separate process; the bot switches when it is done.

Only in a private chat with the bot: in a group nothing is run (its results would be
posted to everyone there), and the operator is asked to use a private chat.
"""

from __future__ import annotations

import asyncio
import json

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.telegram.addressing import lang_of
from bot.telegram.context import Services, services
from bot.telegram.sending import send_notice
from presentation import texts


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex (operators only, in a private chat): re-index the folder the live index was
    built from in a separate process; the bot switches when it is done."""
    svc = services(context)
    lang = lang_of(update)
    chat = update.effective_chat
    user = update.effective_user
    if not user or user.id not in svc.admins:
        await send_notice(context, chat.id, texts.REINDEX_DENIED[lang], lang)
        return
    if chat.type != ChatType.PRIVATE:
        await send_notice(context, chat.id, texts.REINDEX_PRIVATE_ONLY[lang], lang)
        return
    await send_notice(context, chat.id, texts.REINDEX_STARTED[lang], lang)
    proc = await asyncio.create_subprocess_exec(
        *reindex_command(svc), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode == 0:
        figures = json.loads(out.decode().strip().splitlines()[-1])
        await asyncio.to_thread(svc.pipeline.searcher.refresh, force=True)
        text = done_text(figures, lang)
    else:
        lines = err.decode(errors="replace").strip().splitlines() or ["unknown error"]
        text = texts.REINDEX_FAILED[lang].format(reason=lines[-1].removeprefix("Error: "))
    await send_notice(context, chat.id, text, lang)


def reindex_command(svc: Services) -> tuple[str, ...]:
    """The child's command line: the corpus folder the live index remembers (none for an index
    built before indexes remembered it: then ARTICLEBOT_CORPUS or the bundled corpus)."""
    corpus = svc.pipeline.searcher.index.meta.corpus
    return (*svc.reindex_command, "--corpus", corpus) if corpus else tuple(svc.reindex_command)


def done_text(figures: dict, lang: str) -> str:
    """REINDEX_DONE with the skipped files' count, the folder, then the articles added, changed
    and removed (at most REINDEX_LISTED of each, then how many more)."""
    paragraphs = [texts.REINDEX_DONE[lang].format(**{**figures, "skipped": len(figures.get("skipped", []))})]
    if figures.get("corpus"):
        paragraphs.append(texts.REINDEX_CORPUS[lang].format(corpus=figures["corpus"]))
    for kind, label in texts.REINDEX_PATHS.items():
        paths = figures.get(f"{kind}_paths") or []
        if paths:
            lines = [label[lang], *(f"• {path}" for path in paths[: texts.REINDEX_LISTED])]
            if len(paths) > texts.REINDEX_LISTED:
                lines.append(texts.REINDEX_MORE[lang].format(n=len(paths) - texts.REINDEX_LISTED))
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)
