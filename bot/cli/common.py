"""What every command shares: the configuration loader, one-sentence errors, progress display, questions."""

from __future__ import annotations

import sys

import click

from bot.config import Config, ConfigError, check_data_dir
from convlog import LogError
from corpus import CorpusError
from embeddings import EmbeddingModelError
from retrieval.index import IndexProblem
from retrieval.redflag_meaning import ExamplesError
from retrieval.safety import RulesError

# Problems a user can act on: shown as one sentence, never a traceback.
USER_ERRORS = (ConfigError, CorpusError, EmbeddingModelError, IndexProblem, RulesError, ExamplesError, LogError)


def load_config() -> Config:
    """The configuration from the environment (and `.env`), its data folder checked, or a one-sentence error."""
    try:
        config = Config.from_env()
        check_data_dir(config.data_dir)  # once, here: every command that touches the data folder comes through
        return config
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def show_progress() -> bool:
    """Progress bars only on a terminal."""
    return sys.stderr.isatty()


def on_terminal() -> bool:
    """Whether a person can answer a question (standard input is a terminal)."""
    return sys.stdin.isatty()


class UserErrorGroup(click.Group):
    """Turn the errors a user can act on into one clear sentence and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None


class Interrupted(click.ClickException):
    """Ctrl-C: one sentence saying what was kept, and exit code 130 as shells expect of SIGINT."""

    exit_code = 130


def counted(n: int, noun: str) -> str:
    """"1 article", "3 articles": a count with its noun (nouns that take an s)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
