"""The `articlebot` command line (also `python -m bot`)."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.config import Config, ConfigError, load_dotenv_file
from corpus import CorpusError
from embeddings import EmbeddingModelError
from retrieval.index import IndexProblem, current_version
from retrieval.safety import RulesError

if TYPE_CHECKING:
    from bot.telegram_app import WebhookOptions

# Problems a user can act on: shown as one sentence, never a traceback.
USER_ERRORS = (ConfigError, CorpusError, EmbeddingModelError, IndexProblem, RulesError)


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
    TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL); a .env file in the current folder
    is read too. See the README.
    """
    load_dotenv_file()


@main.command()
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), help="Article folder (default: ARTICLEBOT_CORPUS or the bundled corpus).")
@click.option("--full", is_flag=True, help="Re-embed every chunk instead of reusing unchanged ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Also list what the cleaner removed from each article.")
def index(corpus_dir: Path | None, full: bool, as_json: bool, verbose: bool) -> None:
    """Build or update the index from the article folder."""
    from bot.pipeline import make_encoder
    from retrieval.build import build_index

    from retrieval.index import check_reindex_lock

    config = _config()
    corpus_dir = corpus_dir or config.corpus_dir
    check_reindex_lock(config.data_dir)  # say so now rather than after loading the model
    encoder = make_encoder(config)
    report = build_index(corpus_dir, config.data_dir, encoder, full=full, progress=_progress() and not as_json)
    if as_json:
        click.echo(json.dumps(report_figures(report)))
        return
    click.echo(
        f"Indexed {report.articles} articles into {report.chunks} chunks in {report.seconds:.1f} s "
        f"with {config.model} -> {config.data_dir / report.version}"
    )
    click.echo(
        f"  articles: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged; chunks: {report.embedded} embedded, {report.chunks - report.embedded} reused"
    )
    for kind in ("added", "changed", "removed"):
        for path in getattr(report, kind):
            click.echo(f"  {kind} {path}")
    for problem in report.problems:
        click.echo(f"  skipped {problem.path}: {problem.reason}")
    for path, twin in sorted(report.duplicates.items()):
        click.echo(f"  duplicate {path}: same text as {twin}, which is quoted instead")
    if verbose:
        for article in report.cleaned:
            reasons = Counter(r.reason for r in article.removed)
            summary = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common()) or "nothing"
            click.echo(f"\n{article.path} — “{article.title}”: removed {summary}")
            for removed in article.removed:
                click.echo(f"    [{removed.reason}] {removed.text[:70]}")


def report_figures(report) -> dict:
    """The `index --json` object: the contract's four figures plus what changed."""
    return {
        "articles": report.articles,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "seconds": report.seconds,
        "added": len(report.added),
        "changed": len(report.changed),
        "removed": len(report.removed),
        "unchanged": len(report.unchanged),
        "skipped": [{"path": p.path, "reason": p.reason} for p in report.problems],
        "duplicates": [{"path": path, "same_as": twin} for path, twin in sorted(report.duplicates.items())],
    }


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the reply and the hits as JSON.")
def ask(question: str, as_json: bool) -> None:
    """Print exactly the reply the bot would send to QUESTION."""
    from bot.pipeline import open_log, open_pipeline

    config = _config()
    pipeline = open_pipeline(config)
    started = time.monotonic()
    answer = pipeline.answer(question)
    latency_ms = round((time.monotonic() - started) * 1000)
    if as_json:
        hits = [
            {"article": h.article, "title": h.title, "chunk_id": h.chunk_id, "score": round(h.score, 4), "text": h.text}
            for h in answer.hits
        ]
        reply = {"reply": answer.text, "refused": answer.refused, "emergency": bool(answer.emergency), "hits": hits}
        click.echo(json.dumps(reply, ensure_ascii=False))
    else:
        click.echo(answer.text)
    log = open_log(config)
    if log is not None:
        log_exchange(log, pipeline, answer, "ask", latency_ms)
        log.close()


def log_exchange(log, pipeline, answer, channel: str, latency_ms: int) -> None:
    """Record an exchange of the command line (after it was printed; failures only reach stderr)."""
    from bot.convlog import record_of

    meta = pipeline.searcher.index.meta
    user = log.user(terminal_user())
    log.record(record_of(answer, channel=channel, latency_ms=latency_ms, model=meta.model, index_version=meta.version, user_id=user))


def terminal_user() -> str:
    """Who is at the terminal (pseudonymised like any user)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "terminal"


@main.command()
def chat() -> None:
    """Chat in the terminal with the same answer pipeline the bot uses."""
    from bot.chat import run_chat
    from bot.pipeline import open_log, open_pipeline

    config = _config()
    pipeline = open_pipeline(config)
    log = open_log(config)
    on_answer = (lambda answer, ms: log_exchange(log, pipeline, answer, "chat", ms)) if log else None
    try:
        run_chat(pipeline, sys.stdin, sys.stdout, interactive=sys.stdin.isatty(), on_answer=on_answer)
    except KeyboardInterrupt:
        click.echo("")


@main.command(name="eval")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--compare", is_flag=True, help="Score dense, lexical and fused (hybrid) search side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_(folder: Path, compare: bool, as_json: bool) -> None:
    """Measure retrieval on FOLDER/corpus.jsonl and FOLDER/queries.jsonl (recall@1/5/10, MRR@10)."""
    from bot.pipeline import make_encoder
    from retrieval.evaluate import evaluate

    config = _config()
    modes = ("dense", "lexical", "hybrid") if compare else ("hybrid",)
    results = evaluate(folder, make_encoder(config), modes=modes, progress=_progress() and not as_json)
    if as_json:
        if compare:
            click.echo(json.dumps(results))
        else:
            figures = dict(results["hybrid"])
            figures.pop("latency_ms")
            figures.pop("relevant_collapsed")
            click.echo(json.dumps(figures))
        return
    first = next(iter(results.values()))
    click.echo(f"{first['queries']} queries, model {config.model}")
    if first["relevant_collapsed"]:
        click.echo(
            f"  {first['relevant_collapsed']} of them have an answer whose text another passage holds; "
            "that passage counts for it (it is what search returns)"
        )
    click.echo(f"  {'search':<8} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7}   latency per question (ms)")
    for mode, f in results.items():
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in f["latency_ms"].items())
        click.echo(f"  {mode:<8} {f['R@1']:>6.3f} {f['R@5']:>6.3f} {f['R@10']:>6.3f} {f['MRR@10']:>7.3f}   {stages}")


@main.command()
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate(labelled: Path, as_json: bool) -> None:
    """Choose the refusal threshold on LABELLED questions (JSON lines: question, article or null).

    Prints, per coverage weight, the threshold that classifies the most questions
    correctly, with refusal precision and recall, and the same figures for the
    configured threshold (ARTICLEBOT_MIN_SCORE).
    """
    from bot.pipeline import open_pipeline
    from retrieval.calibrate import calibrate as run_calibration
    from retrieval.calibrate import evaluate_threshold, read_labelled, score_questions
    from retrieval.search import COVERAGE_WEIGHT

    config = _config()
    pipeline = open_pipeline(config)
    scored = score_questions(pipeline.searcher, read_labelled(labelled))
    grid = run_calibration(scored)
    current = evaluate_threshold(scored, COVERAGE_WEIGHT, config.min_score)
    if as_json:
        click.echo(json.dumps({"grid": grid, "configured": current}, ensure_ascii=False))
        return
    click.echo(f"{current['questions']['on_topic']} on-topic and {current['questions']['off_topic']} off-topic questions, model {config.model}")
    click.echo(f"  {'weight':>6} {'threshold':>9} {'refusal P':>9} {'refusal R':>9} {'answered':>8} {'right art.':>10}")
    for row in [*grid, current]:
        mark = "  <- configured" if row is current else ""
        click.echo(
            f"  {row['weight']:>6.2f} {row['threshold']:>9.3f} {row['refusal_precision']:>9.3f} {row['refusal_recall']:>9.3f}"
            f" {row['on_topic_answered']:>8.3f} {row['on_topic_right_article']:>10.3f}{mark}"
        )


@main.command()
@click.option("--webhook-url", help="Webhook mode: the public HTTPS URL Telegram posts updates to (default: long polling).")
@click.option("--listen", default="127.0.0.1", show_default=True, help="Webhook mode: address to listen on.")
@click.option("--port", default=8443, show_default=True, type=int, help="Webhook mode: port to listen on.")
@click.option("--secret-token", envvar="TELEGRAM_WEBHOOK_SECRET", help="Webhook mode: secret Telegram must send in each request (env TELEGRAM_WEBHOOK_SECRET).")
@click.option("--url-path", default="", help="Webhook mode: path part to listen on (default: the root).")
def run(webhook_url: str | None, listen: str, port: int, secret_token: str | None, url_path: str) -> None:
    """Build the index if there is none, then start the bot: Telegram when TELEGRAM_BOT_TOKEN is set, else the terminal chat."""
    config = _config()
    if current_version(config.data_dir) is None:
        click.echo(f"No index in {config.data_dir} yet; building it from {config.corpus_dir} ...", err=True)
        click.get_current_context().invoke(index)
    if not config.telegram_token:
        if webhook_url:
            raise click.ClickException("--webhook-url needs TELEGRAM_BOT_TOKEN (in the environment or a .env file).")
        click.get_current_context().invoke(chat)
        return
    from bot.telegram_app import WebhookOptions

    run_telegram(config, WebhookOptions(webhook_url, listen, port, secret_token, url_path) if webhook_url else None)


def run_telegram(config: Config, webhook: WebhookOptions | None) -> None:
    """Start the Telegram bot with the configured index (the token never reaches a log line)."""
    import logging

    from bot.pipeline import library_info, open_log, open_pipeline
    from bot.telegram_app import TelegramSettings, TelegramStartError, build_application, install_log_redaction
    from bot.telegram_app import run as run_application

    token = config.telegram_token or ""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction(token)
    for noisy in ("faiss", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    pipeline = open_pipeline(config)
    settings = TelegramSettings(token, config.telegram_api_url, config.questions_per_minute, config.admins)
    application = build_application(settings, pipeline, open_log(config), lambda: library_info(pipeline))
    try:
        run_application(application, webhook)
    except TelegramStartError as exc:
        raise click.ClickException(str(exc).replace(token, "[token]")) from None


def _add_log_commands() -> None:
    from bot.logs_cli import logs

    main.add_command(logs)


_add_log_commands()
