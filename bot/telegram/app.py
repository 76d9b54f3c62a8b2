"""Build and run the python-telegram-bot Application (long polling or webhook)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.service import Service
from bot.telegram import admin, buttons, commands, errors, questions
from bot.telegram.context import Services
from bot.telegram.ratelimit import RateLimiter
from bot.telegram.recent import RecentAnswers
from presentation import texts

DEFAULT_API_URL = "https://api.telegram.org"
RATE_LIMIT_RETRIES = 3


@dataclass
class TelegramSettings:
    """How to reach Telegram; the token never goes into a log line."""

    token: str
    api_url: str = DEFAULT_API_URL
    questions_per_minute: int = 6
    admins: frozenset[int] = frozenset()


class RedactToken(logging.Filter):
    """Replace the bot token wherever it would appear in a log record (URLs of API calls)."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            message = record.getMessage()
            if self.token in message:
                record.msg = message.replace(self.token, "[token]")
                record.args = None
        return True


def install_log_redaction(token: str) -> None:
    """Keep the token out of every handler's output, and quieten per-request HTTP logging."""
    redact = RedactToken(token)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(redact)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger(name).addFilter(redact)


def build_application(settings: TelegramSettings, service: Service) -> Application:
    """The Application with every handler registered, answering through `service`."""
    api = settings.api_url.rstrip("/")
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .request(HTTPXRequest(connection_pool_size=64, connect_timeout=10, read_timeout=30, write_timeout=30, pool_timeout=30))
        .get_updates_request(HTTPXRequest(connection_pool_size=2, connect_timeout=10, read_timeout=40))
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(True)
        .post_init(_post_init)
        .build()
    )
    application.bot_data["services"] = Services(
        service=service,
        recent=RecentAnswers(service.log),
        limiter=RateLimiter(settings.questions_per_minute, 60.0),
        admins=settings.admins,
    )
    only_messages = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", commands.start, filters=only_messages))
    application.add_handler(CommandHandler("help", commands.help_command, filters=only_messages))
    application.add_handler(CommandHandler("about", commands.about, filters=only_messages))
    application.add_handler(CommandHandler("ask", commands.ask_command, filters=only_messages))
    application.add_handler(CommandHandler("reindex", admin.reindex, filters=only_messages))
    application.add_handler(MessageHandler(only_messages & filters.COMMAND, commands.on_unknown_command))
    application.add_handler(MessageHandler(only_messages & filters.TEXT & ~filters.COMMAND, questions.on_text))
    application.add_handler(
        MessageHandler(only_messages & ~filters.TEXT & ~filters.StatusUpdate.ALL, questions.on_non_text)
    )
    application.add_handler(CallbackQueryHandler(buttons.on_button))
    application.add_error_handler(errors.on_error)
    return application


async def _post_init(application: Application) -> None:
    """Register the command menu (Chinese by default, English for English-language users)."""
    await application.bot.set_my_commands([BotCommand(c, d) for c, d in texts.COMMANDS["zh"]])
    await application.bot.set_my_commands([BotCommand(c, d) for c, d in texts.COMMANDS["en"]], language_code="en")


ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


@dataclass
class WebhookOptions:
    """Webhook mode: Telegram posts updates to `url`; we listen on `listen`:`port`."""

    url: str
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str | None = None
    url_path: str = ""


class TelegramStartError(Exception):
    """The bot could not start (missing or rejected token, unreachable API)."""


def run(application: Application, webhook: WebhookOptions | None = None) -> None:
    """Check the token, then run until SIGINT/SIGTERM (python-telegram-bot stops gracefully on both)."""
    import asyncio

    from telegram.error import InvalidToken, NetworkError

    async def check_token() -> None:
        async with application.bot:  # initialize() asks getMe: fails on a bad token or no API
            pass

    try:
        asyncio.run(check_token())
    except InvalidToken:
        raise TelegramStartError("Telegram rejected TELEGRAM_BOT_TOKEN; check the token with @BotFather.") from None
    except NetworkError as exc:
        raise TelegramStartError(f"Cannot reach the Telegram Bot API ({exc.message}); check TELEGRAM_API_URL and the network.") from None
    asyncio.set_event_loop(asyncio.new_event_loop())  # run_* use (and close) the current loop
    if webhook is None:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
    else:
        application.run_webhook(
            listen=webhook.listen,
            port=webhook.port,
            url_path=webhook.url_path,
            webhook_url=webhook.url,
            secret_token=webhook.secret_token,
            allowed_updates=ALLOWED_UPDATES,
        )
