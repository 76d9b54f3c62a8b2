"""What every handler needs, kept in `application.bot_data["services"]`."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from telegram.ext import ContextTypes

from bot.service import Service
from bot.telegram.ratelimit import RateLimiter
from bot.telegram.recent import RecentAnswers
from convlog import ConversationLog
from retrieval.pipeline import Pipeline


@dataclass
class Services:
    """The shared service (pipeline + log), the "more" memory, the rate limit and the operators."""

    service: Service
    recent: RecentAnswers
    limiter: RateLimiter
    admins: frozenset[int] = frozenset()
    # -P: the working directory is not put on sys.path, so a folder there named like one of
    # ours (corpus/, bot/...) cannot be imported instead; the environment and .env still apply
    reindex_command: tuple[str, ...] = (sys.executable, "-P", "-m", "bot", "index", "--json")

    @property
    def pipeline(self) -> Pipeline:
        return self.service.pipeline

    @property
    def log(self) -> ConversationLog | None:
        return self.service.log


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The handlers' shared services."""
    return context.application.bot_data["services"]
