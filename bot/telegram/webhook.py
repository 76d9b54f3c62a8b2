"""Webhook mode's settings and the check made before the bot starts listening: a webhook
without a secret token accepts forged updates (an operator's /reindex included), so it
is refused unless the operator says a proxy in front checks requests."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass


@dataclass
class WebhookOptions:
    """Webhook mode: Telegram posts updates to `url`; we listen on `listen`:`port`.

    Without a secret token anyone who finds the URL can post forged updates (an
    operator's /reindex included), so a secret is required unless `unchecked` says
    that something in front (a proxy) checks where requests come from."""

    url: str
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str | None = None
    url_path: str = ""
    unchecked: bool = False

    def check(self) -> None:
        """Raise TelegramStartError for a webhook anyone could post to, or a secret Telegram would refuse."""
        if not self.secret_token:
            if self.unchecked:
                logging.getLogger(__name__).warning(
                    "Webhook without a secret token: every request is trusted; make sure the proxy in front checks them."
                )
                return
            raise TelegramStartError(
                "Webhook mode needs a secret token (--secret-token or TELEGRAM_WEBHOOK_SECRET) so that forged updates "
                "are refused; pass --no-secret-token only if a proxy in front checks requests itself."
            )
        if not _SECRET_RE.fullmatch(self.secret_token):
            raise TelegramStartError(
                "The webhook secret token must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)."
            )


_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramStartError(Exception):
    """The bot could not start (missing or rejected token, unreachable API, a webhook
    without a secret), or had to stop (the token was revoked while it ran)."""
