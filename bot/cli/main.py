"""The `articlebot` command group: the entry point of the command line."""

from __future__ import annotations

import click

from bot.cli.answer import ask, chat, run
from bot.cli.common import UserErrorGroup
from bot.cli.console import console
from bot.cli.index import index
from bot.cli.logs import logs
from bot.cli.measure import (
    calibrate,
    calibrate_redflags,
    eval_,
    eval_answers,
    eval_redflags,
)
from bot.config import go_offline, load_dotenv_file, share_cores


@click.group(cls=UserErrorGroup)
@click.version_option(package_name="articlebot")
@click.pass_context
def main(ctx: click.Context) -> None:
    """articlebot: answers health questions by quoting a corpus of articles.

    Configuration comes from environment variables (ARTICLEBOT_DATA,
    ARTICLEBOT_CORPUS, ARTICLEBOT_MODEL, ARTICLEBOT_MIN_SCORE, ARTICLEBOT_TOP_K,
    TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL); a .env file in the current folder
    is read too. See the README.
    """
    load_dotenv_file()  # first, so that .env may set the offline variables too
    go_offline()
    if ctx.invoked_subcommand != "run":  # the bot answers fastest with spinning threads (bot.config)
        share_cores()


for command in (index, ask, chat, run, eval_, eval_answers, calibrate, eval_redflags, calibrate_redflags, logs, console):
    main.add_command(command)
