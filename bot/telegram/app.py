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
from bot.telegram.webhook import TelegramStartError, WebhookOptions
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


class TokenWatch:
    """Notices Telegram refusing the token while the bot runs (revoked or replaced in
    @BotFather): the bot then stops and `run` exits non-zero with one sentence, rather
    than living on without polling (python-telegram-bot ends its polling loop on a 401
    but leaves the process up)."""

    def __init__(self):
        self.application: Application | None = None
        self.revoked = False

    def refused(self) -> None:
        if self.revoked:
            return
        self.revoked = True
        logging.getLogger(__name__).error("Telegram refused the bot token (401 Unauthorized): stopping.")
        if self.application is not None:
            self.application.stop_running()


class WatchedRequest(HTTPXRequest):
    """An HTTPXRequest that tells `TokenWatch` about every 401 answer."""

    def __init__(self, watch: TokenWatch, **kwargs):
        super().__init__(**kwargs)
        self.watch = watch

    async def do_request(self, url: str, *args, **kwargs):
        code, payload = await super().do_request(url, *args, **kwargs)
        if code == 401:
            self.watch.refused()
            if url.endswith("/getUpdates"):
                # no updates, rather than an exception that kills the polling task before the
                # graceful stop (`stop_running`) can await it
                return 200, b'{"ok": true, "result": []}'
        return code, payload


def build_application(settings: TelegramSettings, service: Service) -> Application:
    """The Application with every handler registered, answering through `service`."""
    api = settings.api_url.rstrip("/")
    watch = TokenWatch()
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .request(WatchedRequest(watch, connection_pool_size=64, connect_timeout=10, read_timeout=30, write_timeout=30,
                                pool_timeout=30))  # fmt: skip
        .get_updates_request(WatchedRequest(watch, connection_pool_size=2, connect_timeout=10, read_timeout=40))
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(True)
        .post_init(_post_init)
        .build()
    )
    watch.application = application
    application.bot_data["token_watch"] = watch
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


def run(application: Application, webhook: WebhookOptions | None = None) -> None:
    """Check the token, then run until SIGINT/SIGTERM (python-telegram-bot stops gracefully on both)."""
    import asyncio

    from telegram.error import InvalidToken, NetworkError

    async def check_token() -> None:
        async with application.bot:  # initialize() asks getMe: fails on a bad token or no API
            pass

    if webhook is not None:
        webhook.check()
    try:
        asyncio.run(check_token())
    except InvalidToken:
        raise TelegramStartError("Telegram rejected TELEGRAM_BOT_TOKEN; check the token with @BotFather.") from None
    except NetworkError as exc:
        raise TelegramStartError(f"Cannot reach the Telegram Bot API ({exc.message}); check TELEGRAM_API_URL and the network.") from None
    asyncio.set_event_loop(asyncio.new_event_loop())  # run_* use (and close) the current loop
    watch = application.bot_data.get("token_watch")
    try:
        _run(application, webhook)
        revoked = watch is not None and watch.revoked
    except InvalidToken:
        revoked = True
    if revoked:
        raise TelegramStartError(
            "Telegram stopped accepting TELEGRAM_BOT_TOKEN while the bot was running (revoked or replaced in "
            "@BotFather?); set the new token and start the bot again."
        )


def _run(application: Application, webhook: WebhookOptions | None) -> None:
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
