"""The `articlebot` command line (also `python -m bot`)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click

from bot.config import Config, ConfigError
from corpus import CorpusError
from embeddings import EmbeddingModelError
from retrieval.index import IndexProblem, current_version

# Problems a user can act on: shown as one sentence, never a traceback.
USER_ERRORS = (ConfigError, CorpusError, EmbeddingModelError, IndexProblem)


def _config() -> Config:
    try:
        return Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _progress() -> bool:
    return sys.stderr.isatty()


class _Group(click.Group):
    """Turn the errors a user can act on into one clear sentence and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="articlebot")
def main() -> None:
    """articlebot: answers health questions by quoting a corpus of articles.

    Configuration comes from environment variables (ARTICLEBOT_DATA,
    ARTICLEBOT_CORPUS, ARTICLEBOT_MODEL, ARTICLEBOT_MIN_SCORE, ARTICLEBOT_TOP_K,
    TELEGRAM_BOT_TOKEN); see the README.
    """


@main.command()
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), help="Article folder (default: ARTICLEBOT_CORPUS or the bundled corpus).")
@click.option("--full", is_flag=True, help="Re-embed every chunk instead of reusing unchanged ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Also list what the cleaner removed from each article.")
def index(corpus_dir: Path | None, full: bool, as_json: bool, verbose: bool) -> None:
    """Build or update the index from the article folder."""
    from embeddings import SentenceTransformerEncoder
    from retrieval.build import build_index

    config = _config()
    corpus_dir = corpus_dir or config.corpus_dir
    encoder = SentenceTransformerEncoder(config.model)
    report = build_index(corpus_dir, config.data_dir, encoder, full=full, progress=_progress() and not as_json)
    if as_json:
        click.echo(json.dumps({"articles": report.articles, "chunks": report.chunks, "embedded": report.embedded, "seconds": report.seconds}))
        return
    click.echo(
        f"Indexed {report.articles} articles into {report.chunks} chunks "
        f"({report.embedded} embedded, the rest unchanged) in {report.seconds:.1f} s "
        f"with {config.model} -> {config.data_dir / report.version}"
    )
    for problem in report.problems:
        click.echo(f"  skipped {problem.path}: {problem.reason}")
    if verbose:
        for article in report.cleaned:
            reasons = Counter(r.reason for r in article.removed)
            summary = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common()) or "nothing"
            click.echo(f"\n{article.path} — “{article.title}”: removed {summary}")
            for removed in article.removed:
                click.echo(f"    [{removed.reason}] {removed.text[:70]}")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the reply and the hits as JSON.")
def ask(question: str, as_json: bool) -> None:
    """Print exactly the reply the bot would send to QUESTION."""
    from bot.pipeline import open_pipeline

    answer = open_pipeline(_config()).answer(question)
    if as_json:
        hits = [
            {"article": h.article, "title": h.title, "chunk_id": h.chunk_id, "score": round(h.score, 4), "text": h.text}
            for h in answer.hits
        ]
        click.echo(json.dumps({"reply": answer.text, "refused": answer.refused, "hits": hits}, ensure_ascii=False))
    else:
        click.echo(answer.text)


@main.command()
def chat() -> None:
    """Chat in the terminal with the same answer pipeline the bot uses."""
    from bot.chat import run_chat
    from bot.pipeline import open_pipeline

    pipeline = open_pipeline(_config())
    try:
        run_chat(pipeline, sys.stdin, sys.stdout, interactive=sys.stdin.isatty())
    except KeyboardInterrupt:
        click.echo("")


@main.command(name="eval")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_(folder: Path, as_json: bool) -> None:
    """Measure retrieval on FOLDER/corpus.jsonl and FOLDER/queries.jsonl (recall@1/5/10, MRR@10)."""
    from embeddings import SentenceTransformerEncoder
    from retrieval.evaluate import evaluate

    config = _config()
    figures = evaluate(folder, SentenceTransformerEncoder(config.model), progress=_progress() and not as_json)
    if as_json:
        click.echo(json.dumps(figures))
        return
    click.echo(f"{figures['queries']} queries, model {config.model}")
    for key in ("R@1", "R@5", "R@10", "MRR@10"):
        click.echo(f"  {key:<7} {figures[key]:.3f}")


@main.command()
def run() -> None:
    """Build the index if there is none, then start the bot (Telegram with a token, else the terminal chat)."""
    config = _config()
    if current_version(config.data_dir) is None:
        click.echo(f"No index in {config.data_dir} yet; building it from {config.corpus_dir} ...", err=True)
        click.get_current_context().invoke(index)
    if config.telegram_token:
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is set, but the Telegram bot is not part of this version yet;"
            " unset it to chat in the terminal."
        )
    click.get_current_context().invoke(chat)
