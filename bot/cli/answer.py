"""Answering from the command line: `ask` (one question), `chat` (the terminal), `run` (the bot)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from bot.cli.common import load_config
from bot.cli.index import index
from bot.config import Config

if TYPE_CHECKING:
    from bot.telegram.app import WebhookOptions


def terminal_user() -> str:
    """Who is at the terminal (pseudonymised like any user)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "terminal"


@click.command(context_settings={"ignore_unknown_options": True})  # "-2+3" or "-头疼怎么办" is a question, not an option
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the reply and the hits as JSON.")
def ask(question: str, as_json: bool) -> None:
    """Print exactly the reply the bot would send to QUESTION (one argument: quote it; a
    question that is exactly --json or --help goes after --)."""
    from bot.cli.chat import answer_json
    from bot.service import Service, open_log, open_pipeline
    from presentation.plain import render_text

    def deliver(answer) -> None:
        click.echo(json.dumps(answer_json(answer), ensure_ascii=False) if as_json else render_text(answer))

    config = load_config()
    service = Service(open_pipeline(config))
    exchange = service.answer(question, channel="ask", user=terminal_user())
    deliver(exchange.answer)
    exchange.delivered()
    service.log = open_log(config)  # opened after the reply is printed: the log never delays it
    service.record(exchange)
    service.close()


@click.command()
@click.option("--json", "as_json", is_flag=True,
              help="Questions one per line on standard input, one JSON object per line out (the keys of `ask --json`).")
def chat(as_json: bool) -> None:
    """Chat in the terminal with the same answer pipeline the bot uses (a follow-up is
    understood with the question before it, as in Telegram). An exit word alone on a line
    (exit, quit, 退出) or Ctrl-D ends it, with --json too."""
    from bot.cli.chat import run_chat
    from bot.service import Service

    service = Service.from_config(load_config())
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 become U+FFFD at the entry, not a traceback
        sys.stdin.reconfigure(errors="surrogateescape")
    try:
        run_chat(service, sys.stdin, sys.stdout, interactive=sys.stdin.isatty() and not as_json, user=terminal_user(),
                 as_json=as_json)  # fmt: skip
    except KeyboardInterrupt:
        click.echo("")
    finally:
        service.close()


@click.command()
@click.option("--webhook-url", help="Webhook mode: the public HTTPS URL Telegram posts updates to (default: long polling).")
@click.option("--listen", default="127.0.0.1", show_default=True, help="Webhook mode: address to listen on.")
@click.option("--port", default=8443, show_default=True, type=int, help="Webhook mode: port to listen on.")
@click.option("--secret-token", envvar="TELEGRAM_WEBHOOK_SECRET", help="Webhook mode: secret Telegram must send in each request (env TELEGRAM_WEBHOOK_SECRET).")
@click.option("--url-path", default="", help="Webhook mode: path part to listen on (default: the root).")
@click.option("--no-secret-token", "no_secret", is_flag=True,
              help="Webhook mode without a secret token: only behind a proxy that checks requests come from Telegram.")
def run(webhook_url: str | None, listen: str, port: int, secret_token: str | None, url_path: str, no_secret: bool) -> None:
    """Build the index if there is none, then start the bot: Telegram when TELEGRAM_BOT_TOKEN is set, else the terminal chat."""
    from retrieval.index import current_version

    config = load_config()
    if current_version(config.data_dir) is None:
        click.echo(f"No index in {config.data_dir} yet; building it from {config.corpus_dir} ...", err=True)
        click.get_current_context().invoke(index)
    if not config.telegram_token:
        if webhook_url:
            raise click.ClickException("--webhook-url needs TELEGRAM_BOT_TOKEN (in the environment or a .env file).")
        click.get_current_context().invoke(chat)
        return
    from bot.telegram.app import WebhookOptions

    run_telegram(config, WebhookOptions(webhook_url, listen, port, secret_token, url_path, no_secret) if webhook_url else None)


def run_telegram(config: Config, webhook: WebhookOptions | None) -> None:
    """Start the Telegram bot with the configured index (the token never reaches a log line)."""
    import logging

    from bot.service import Service
    from bot.telegram.app import (
        TelegramSettings,
        TelegramStartError,
        build_application,
        install_log_redaction,
    )
    from bot.telegram.app import run as run_application

    token = config.telegram_token or ""
    try:
        if webhook is not None:
            webhook.check()  # before loading anything: a webhook anyone could post to never starts
    except TelegramStartError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction(token)
    for noisy in ("faiss", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = TelegramSettings(token, config.telegram_api_url, config.questions_per_minute, config.admins)
    application = build_application(settings, Service.from_config(config))
    try:
        run_application(application, webhook)
    except TelegramStartError as exc:
        raise click.ClickException(str(exc).replace(token, "[token]")) from None
