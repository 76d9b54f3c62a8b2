"""`articlebot logs`: review the conversation log (list is the default command)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.cli.common import load_config, on_terminal
from bot.config import Config
from convlog.export import CSV_ENCODING, write_csv
from convlog.review import (
    MAX_ROWS,
    Filters,
    QueryError,
    count_before,
    cutoff,
    get_exchange,
    iter_exchanges,
    list_exchanges,
    parse_when,
    purge,
    stats,
)


class DefaultGroup(click.Group):
    """A group that runs `list` when no subcommand is named (`articlebot logs -n 5`)."""

    default = "list"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


def _open(config: Config):
    from convlog import ConversationLog, LogError, check_salt, log_url
    from convlog.database import sqlite_path

    check_salt(config.data_dir, config.log_salt)  # an empty salt file is a mistake to fix before anything is logged
    url = log_url(config.data_dir, config.log_url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise click.ClickException(
            f"No conversation log at {path} yet; it is created when the bot answers its first question."
        )
    try:
        return ConversationLog(url)
    except LogError as exc:
        raise click.ClickException(str(exc)) from None


def _filters(refused, negative, since, until, user, text, channel=None) -> Filters:
    try:
        return Filters(
            refused=refused,
            negative=negative,
            since=parse_when(since) if since else None,
            until=parse_when(until) if until else None,
            user=user,
            text=text,
            channel=channel,
        )
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None


def filter_options(func):
    """The selection options shared by list, stats and export."""
    for option in reversed(
        [
            click.option("--refused", is_flag=True, help="Only questions the corpus could not answer."),
            click.option("--negative", is_flag=True, help="Only answers that got a 👎."),
            click.option("--since", help="From this time on (2026-11-01, 2026-11-01T08:00, or an age: 7d, 12h)."),
            click.option("--until", help="Before this time (same forms as --since)."),
            click.option("--user", help="Only this user (the pseudonymous id shown by list/show)."),
            click.option("-q", "--query", "text", help="Full-text search in questions and replies."),
        ]
    ):
        func = option(func)
    return func


def _json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group(cls=DefaultGroup)
def logs() -> None:
    """Review the conversation log: what was asked, answered, refused and disliked."""


@logs.command(name="list")
@click.option("-n", "--count", default=20, show_default=True, type=click.IntRange(1, MAX_ROWS), help="How many exchanges.")
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(count, refused, negative, since, until, user, text, as_json) -> None:
    """The newest exchanges, newest first."""
    log = _open(load_config())
    rows = list_exchanges(log.engine, _filters(refused, negative, since, until, user, text), count)
    if as_json:
        _json(rows)
        return
    if not rows:
        click.echo("No exchanges match.")
    for row in rows:
        flags = " ".join(
            f for f in ("refused" if row["refused"] and not row["emergency"] else "", "EMERGENCY" if row["emergency"] else "",
                        {"up": "👍", "down": "👎"}.get(row["feedback"] or "", ""),
                        "undelivered" if row.get("delivery_error") else "") if f
        )  # fmt: skip
        question = row["question"].replace("\n", " ")
        question = question if len(question) <= 50 else question[:49] + "…"
        click.echo(f"{row['id']}  {row['ts'][:16].replace('T', ' ')}  {row['channel']:<8} {row['lang']}  {flags:<10} {question}")


@logs.command()
@click.argument("exchange_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(exchange_id: str, as_json: bool) -> None:
    """One exchange: the question, the reply, and each hit with its score and article."""
    log = _open(load_config())
    row = get_exchange(log.engine, exchange_id)
    if row is None:
        raise click.ClickException(f"No exchange with id {exchange_id} (or the prefix matches several).")
    if as_json:
        _json(row)
        return
    click.echo(f"Exchange {row['id']} at {row['ts']} via {row['channel']} ({row['chat_type'] or '-'}), language {row['lang']}")
    click.echo(f"User {row['user_id'] or '-'}; {row['latency_ms']} ms; model {row['model']}; index {row['index_version']}")
    click.echo(f"Refused: {'yes' if row['refused'] and not row['emergency'] else 'no'}; emergency: {'yes' if row['emergency'] else 'no'}; "
               f"feedback: {row['feedback'] or '-'}{' at ' + row['feedback_ts'] if row['feedback_ts'] else ''}")  # fmt: skip
    if row.get("delivery_error"):
        click.echo(f"Not delivered: {row['delivery_error']}")
    click.echo(f"\nQuestion:\n{row['question']}\n\nReply:\n{row['reply']}\n\nHits:")
    for hit in row["hits"]:
        mark = "quoted" if hit["shown"] else ""
        click.echo(f"  {hit['rank']:>2}. {hit['score']:.3f}  {hit['article']}  {hit['title'] or ''}  {mark}")


@logs.command(name="stats")
@filter_options
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, MAX_ROWS),
              help="How many content gaps and articles.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_command(refused, negative, since, until, user, text, top, as_json) -> None:
    """Exchanges per day, refusal rate, feedback, content gaps and most cited articles."""
    log = _open(load_config())
    figures = stats(log.engine, _filters(refused, negative, since, until, user, text), top)
    if as_json:
        _json(figures)
        return
    fb = figures["feedback"]
    click.echo(f"Exchanges: {figures['exchanges']}   refused: {figures['refused']} ({figures['refusal_rate']:.0%})   "
               f"emergencies: {figures['emergencies']}   average latency: {figures['avg_latency_ms']} ms")  # fmt: skip
    ratio = "-" if fb["positive_ratio"] is None else f"{fb['positive_ratio']:.0%} positive"
    click.echo(f"Feedback: 👍 {fb['up']}  👎 {fb['down']}  ({ratio}; {fb['share_with_feedback']:.0%} of exchanges rated)")
    click.echo("\nPer day:")
    for day in figures["per_day"]:
        click.echo(f"  {day['day']}  {day['exchanges']}")
    click.echo("\nMost common unanswered questions (content gaps):")
    for gap in figures["unanswered"] or []:
        click.echo(f"  {gap['count']:>4} × {gap['question']}")
    if not figures["unanswered"]:
        click.echo("  (none)")
    click.echo("\nMost cited articles:")
    for art in figures["most_cited"]:
        click.echo(f"  {art['times_quoted']:>4} × {art['title'] or art['article']}  ({art['article']})")
    if not figures["most_cited"]:
        click.echo("  (none)")


@logs.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout.")
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Same as --format jsonl.")
def export(fmt, output, refused, negative, since, until, user, text, as_json) -> None:
    """Export exchanges (with their hits) as CSV or JSON lines."""
    log = _open(load_config())
    rows = iter_exchanges(log.engine, _filters(refused, negative, since, until, user, text))
    fmt = "jsonl" if as_json else fmt
    try:
        if not output:
            _write(rows, fmt, sys.stdout)
            sys.stdout.flush()
            return
        # CSV with a byte-order mark, so that Excel reads the Chinese as UTF-8
        with open(output, "w", encoding=CSV_ENCODING if fmt == "csv" else "utf-8", newline="") as out:
            count = _write(rows, fmt, out)
    except BrokenPipeError:
        raise  # `| head`: click ends quietly
    except OSError as exc:
        raise click.ClickException(_cannot_write(output, exc)) from None
    click.echo(f"Exported {count} exchanges to {output}", err=True)


def _write(rows, fmt: str, out) -> int:
    """Write exchanges to `out` as CSV or JSON lines; returns how many."""
    if fmt == "csv":
        return write_csv(rows, out)
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        count += 1
    return count


def _cannot_write(output: Path | None, exc: OSError) -> str:
    """One sentence for an export that cannot be written (to `output`, or standard output)."""
    if output is None:
        return f"Cannot write the export to standard output: {exc.strerror or exc}."
    folder = output.parent
    if not folder.exists():
        return f"Cannot write {output}: the folder {folder} does not exist."
    if not folder.is_dir():
        return f"Cannot write {output}: {folder} is a file, not a folder."
    return f"Cannot write {output}: {exc.strerror or exc}."


@logs.command(name="purge")
@click.option("--older-than", "older_than", required=True, help="Delete exchanges older than this age (e.g. 90d; 0d: all).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal, e.g. in cron).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def purge_command(older_than: str, yes: bool, as_json: bool) -> None:
    """Delete old exchanges (retention), with their hits and feedback."""
    try:
        before = cutoff(older_than)
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None
    log = _open(load_config())
    if not yes:
        _confirm_purge(count_before(log.engine, before), before)
    deleted = purge(log.engine, before)
    if as_json:
        _json({"deleted": deleted, "before": before})
    else:
        click.echo(f"Deleted {deleted} exchanges logged before {before}.")


def _confirm_purge(count: int, before: str) -> None:
    """Ask on a terminal before deleting; elsewhere refuse without --yes (nothing to delete: no question)."""
    if count == 0:
        return
    if not on_terminal():
        raise click.ClickException(
            f"This would delete {_exchanges(count)} logged before {before}; pass --yes to delete without a terminal."
        )
    click.confirm(f"Delete {_exchanges(count)} logged before {before}?", abort=True)


def _exchanges(count: int) -> str:
    return f"{count} exchange" if count == 1 else f"{count} exchanges"


@logs.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def path(as_json: bool) -> None:
    """Where the log is (logs.db opens in any SQLite browser)."""
    from convlog import log_url
    from convlog.database import display_url

    config = load_config()
    location = display_url(log_url(config.data_dir, config.log_url))
    if as_json:
        _json({"log": location})
    else:
        click.echo(location)
