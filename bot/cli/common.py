"""What every command shares: the configuration loader, one-sentence errors, progress display."""

from __future__ import annotations

import sys

import click

from bot.config import Config, ConfigError
from convlog import LogError
from corpus import CorpusError
from embeddings import EmbeddingModelError
from retrieval.index import IndexProblem
from retrieval.redflag_meaning import ExamplesError
from retrieval.safety import RulesError

# Problems a user can act on: shown as one sentence, never a traceback.
USER_ERRORS = (ConfigError, CorpusError, EmbeddingModelError, IndexProblem, RulesError, ExamplesError, LogError)


def load_config() -> Config:
    """The configuration from the environment (and `.env`), or a one-sentence error."""
    try:
        return Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def show_progress() -> bool:
    """Progress bars only on a terminal."""
    return sys.stderr.isatty()


class UserErrorGroup(click.Group):
    """Turn the errors a user can act on into one clear sentence and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None
