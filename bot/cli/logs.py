"""`articlebot logs`: review the conversation log (list is the default command)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from bot.cli.common import load_config
from bot.config import Config
from common.clock import utc_stamp
from convlog.review import (
    Filters,
    QueryError,
    get_exchange,
    iter_exchanges,
    list_exchanges,
    parse_age,
    parse_when,
    purge,
    stats,
)

EXPORT_FIELDS = [
    "id", "ts", "channel", "user_id", "chat_type", "lang", "question", "reply", "refused", "emergency",
    "latency_ms", "model", "index_version", "feedback", "feedback_ts",
]  # fmt: skip


class DefaultGroup(click.Group):
    """A group that runs `list` when no subcommand is named (`articlebot logs -n 5`)."""

    default = "list"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


def _open(config: Config):
    from convlog import ConversationLog, LogError, log_url
    from convlog.database import sqlite_path

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
@click.option("-n", "--count", default=20, show_default=True, type=click.IntRange(min=1), help="How many exchanges.")
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
                        {"up": "👍", "down": "👎"}.get(row["feedback"] or "", "")) if f
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
    click.echo(f"\nQuestion:\n{row['question']}\n\nReply:\n{row['reply']}\n\nHits:")
    for hit in row["hits"]:
        mark = "quoted" if hit["shown"] else ""
        click.echo(f"  {hit['rank']:>2}. {hit['score']:.3f}  {hit['article']}  {hit['title'] or ''}  {mark}")


@logs.command(name="stats")
@filter_options
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1), help="How many content gaps and articles.")
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
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    count = 0
    try:
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=[*EXPORT_FIELDS, "quoted_articles", "hits"])
            writer.writeheader()
            for row in rows:
                quoted = ";".join(h["article"] for h in row["hits"] if h["shown"])
                writer.writerow({**{k: row[k] for k in EXPORT_FIELDS}, "quoted_articles": quoted,
                                 "hits": json.dumps(row["hits"], ensure_ascii=False)})  # fmt: skip
                count += 1
        else:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                count += 1
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"Exported {count} exchanges to {output}", err=True)


@logs.command(name="purge")
@click.option("--older-than", "older_than", required=True, help="Delete exchanges older than this age (e.g. 90d).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def purge_command(older_than: str, as_json: bool) -> None:
    """Delete old exchanges (retention), with their hits and feedback."""
    try:
        before = utc_stamp(datetime.now(timezone.utc) - parse_age(older_than))
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None
    log = _open(load_config())
    deleted = purge(log.engine, before)
    if as_json:
        _json({"deleted": deleted, "before": before})
    else:
        click.echo(f"Deleted {deleted} exchanges logged before {before}.")


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
