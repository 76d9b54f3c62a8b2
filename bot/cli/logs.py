"""`articlebot logs`: review the conversation log (list is the default command)."""

from __future__ import annotations

import json
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import click

from bot.cli.common import counted, load_config, on_terminal
from bot.config import Config
from convlog.export import CSV_ENCODING, jsonl_line, label_line, write_csv
from convlog.retention import count_before, cutoff, purge
from convlog.review import (
    MAX_ROWS,
    Filters,
    QueryError,
    get_exchange,
    iter_exchanges,
    list_exchanges,
    outcome_of,
    parse_until,
    parse_when,
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
            until=parse_until(until) if until else None,
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
            click.option("--until", help="Before this time (same forms as --since; a date alone includes that day)."),
            click.option("--user", help="Only this user (the pseudonymous id shown by list/show)."),
            click.option("-q", "--query", "text", help="Full-text search in questions and replies."),
        ]
    ):
        func = option(func)
    return func


def _json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


LIST_CHARS = 50  # of a message in a `logs list` line
GAP_CHARS = 120  # of a message in the gaps of `logs gaps` and `logs stats` (--json and `logs show` give all of it)


def one_line(text: str, limit: int) -> str:
    """A logged message on one line of the terminal: line breaks as spaces, cut with "…" past `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
            f for f in ({"not_covered": "refused", "emergency": "EMERGENCY", "small_talk": "small-talk"}.get(outcome_of(row), ""),
                        {"up": "👍", "down": "👎"}.get(row["feedback"] or "", ""),
                        "undelivered" if row.get("delivery_error") else "") if f
        )  # fmt: skip
        question = one_line(row["question"], LIST_CHARS)
        click.echo(f"{row['id']}  {row['ts'][:16].replace('T', ' ')}  {row['channel']:<8} {row['user_id'] or '-':<16} {row['lang']}  "
                   f"{flags:<10} {question}")


@logs.command()
@click.argument("exchange_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(exchange_id: str, as_json: bool) -> None:
    """One exchange: the question, the reply, and each hit with its score and article."""
    config = load_config()
    log = _open(config)
    row = get_exchange(log.engine, exchange_id)
    if row is None:
        raise click.ClickException(f"No exchange with id {exchange_id} (or the prefix matches several).")
    row["hits"].sort(key=lambda h: (-h["score"], h["rank"]))  # highest relevance first
    with _index_store(config) as store:
        indexed = store is not None
        texts = store.texts([h["chunk_id"] for h in row["hits"]]) if indexed else {}
    for hit in row["hits"]:
        hit["text"] = texts.get(hit["chunk_id"])  # None: not in the current index (changed or removed since)
    if as_json:
        _json(row)
        return
    click.echo(f"Exchange {row['id']} at {row['ts']} via {row['channel']} ({row['chat_type'] or '-'}), language {row['lang']}")
    click.echo(f"User {row['user_id'] or '-'}; {row['latency_ms']} ms; model {row['model']}; index {row['index_version']}")
    outcome = outcome_of(row)
    refused = "yes" if outcome == "not_covered" else "no (greeting, thanks or no words: answered in kind)" if outcome == "small_talk" else "no"
    click.echo(f"Refused: {refused}; emergency: {'yes' if row['emergency'] else 'no'}; "
               f"feedback: {row['feedback'] or '-'}{' at ' + row['feedback_ts'] if row['feedback_ts'] else ''}")  # fmt: skip
    if row.get("delivery_error"):
        click.echo(f"Not delivered: {row['delivery_error']}")
    searched = ""
    if row.get("searched"):  # the question as searched: with the conversation, or in another form (typos mended)
        searched = f"\n\nSearched {'as a follow-up' if row.get('follow_up') else 'as'}:\n{row['searched']}"
    click.echo(f"\nQuestion:\n{row['question']}{searched}\n\nReply:\n{row['reply']}\n\nHits (highest relevance first; each numbered by the place search gave it):")
    if not row["hits"]:
        click.echo("  (none)")
    if row["hits"] and not indexed:
        click.echo("  (no index in the data folder: the passages' text cannot be shown)")
    for hit in row["hits"]:
        mark = "quoted" if hit["shown"] else ""
        click.echo(f"  {hit['rank']:>2}. {_score(hit['score'])}  {hit['article']}  {hit['title'] or ''}  {mark}".rstrip())
        if indexed:
            text = hit["text"] if hit["text"] is not None else "(this passage is no longer in the index: its article changed or was removed)"
            click.echo(textwrap.indent(text.strip(), "      "))


@logs.command(name="stats")
@filter_options
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, MAX_ROWS),
              help="How many content gaps and articles.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_command(refused, negative, since, until, user, text, top, as_json) -> None:
    """Exchanges per day, refusal rate, feedback, content gaps and most cited articles."""
    config = load_config()
    log = _open(config)
    filters = _filters(refused, negative, since, until, user, text)
    figures = stats(log.engine, filters, top)
    figures["unanswered"], problem = _stats_gaps(config, log.engine, filters, top)
    if problem:
        figures["unanswered_problem"] = problem
    if as_json:
        _json(figures)
        return
    fb = figures["feedback"]
    latency = "-" if figures["avg_latency_ms"] is None else f"{figures['avg_latency_ms']} ms"  # no exchanges: no average
    click.echo(f"Exchanges: {figures['exchanges']}   refused: {figures['refused']} ({figures['refusal_rate']:.0%} of questions)   "
               f"emergencies: {figures['emergencies']}   average latency: {latency}")  # fmt: skip
    if figures["small_talk"]:
        click.echo(f"  (not counted as refused: {figures['small_talk']} greetings, thanks or messages with no words)")
    ratio = "-" if fb["positive_ratio"] is None else f"{fb['positive_ratio']:.0%} positive"
    click.echo(f"Feedback: 👍 {fb['up']}  👎 {fb['down']}  ({ratio}; {fb['share_with_feedback']:.0%} of exchanges rated)")
    click.echo("\nPer day:")
    for day in figures["per_day"]:
        click.echo(f"  {day['day']}  {day['exchanges']}")
    click.echo("\nMost common unanswered questions, grouped by meaning (content gaps; more: `articlebot logs gaps`):")
    for gap in figures["unanswered"] or []:
        click.echo(f"  {gap['count']:>4} × {one_line(gap['question'], GAP_CHARS)}  [{gap['key']}]")
    if figures["unanswered"] == []:
        click.echo("  (none)")
    elif figures["unanswered"] is None:
        click.echo(f"  (not grouped: {figures['unanswered_problem']})")
    click.echo("\nMost cited articles:")
    for art in figures["most_cited"]:
        click.echo(f"  {art['times_quoted']:>4} × {art['title'] or art['article']}  ({art['article']})")
    if not figures["most_cited"]:
        click.echo("  (none)")


def _stats_gaps(config: Config, engine, filters: Filters, top: int) -> tuple[list[dict] | None, str | None]:
    """(the biggest content gaps as `logs gaps` groups them, unhandled ones; None and why when
    the embedding model cannot be loaded)."""
    from embeddings import EmbeddingModelError
    from retrieval.redflag_meaning import ExamplesError
    from retrieval.safety import RulesError

    try:
        grouper = _grouper(config)
    except (EmbeddingModelError, ExamplesError, RulesError) as exc:
        return None, str(exc)
    report = grouper.report(engine, filters)
    return [{"key": g.key, "question": g.label, "count": g.count, "variants": g.examples} for g in report.groups[:top]], None


@logs.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "labels"]), default="jsonl", show_default=True,
              help="labels: one draft line a message for `articlebot eval-answers` / `calibrate`, to be checked by hand.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout.")
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Same as --format jsonl.")
def export(fmt, output, refused, negative, since, until, user, text, as_json) -> None:
    """Export exchanges (with their hits) as CSV or JSON lines, or as draft labelled lines
    (`--format labels`): what the bot did with each message, for a person to correct into
    a labelled file for `articlebot eval-answers` and `articlebot calibrate`."""
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
    """Write exchanges to `out` as CSV, JSON lines or draft labelled lines; returns how many were
    written (a draft leaves small talk out: label_line gives "" for it)."""
    if fmt == "csv":
        return write_csv(rows, out)
    line = label_line if fmt == "labels" else jsonl_line
    count = 0
    for row in rows:
        text = line(row)
        out.write(text)
        count += bool(text)
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
@click.option("--older-than", "older_than", required=True, help="Delete exchanges older than this age: days, weeks, hours or minutes (90d, 2w, 12h, 30min; 0d: all).")
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


@contextmanager
def _index_store(config: Config):
    """The live index's chunk store (passage texts, articles), or None when there is no index."""
    from retrieval.index import current_version
    from retrieval.store import ChunkStore

    folder = current_version(config.data_dir)
    if folder is None:
        yield None
        return
    store = ChunkStore(folder / "chunks.sqlite")
    try:
        yield store
    finally:
        store.close()


def gap_options(func):
    """The selection options of the gap and article reports."""
    for option in reversed(
        [
            click.option("--since", help="From this time on (2026-11-01, 2026-11-01T08:00, or an age: 7d, 12h)."),
            click.option("--until", help="Before this time (same forms as --since; a date alone includes that day)."),
            click.option("--channel", help="Only this channel (telegram, ask, chat, ...)."),
        ]
    ):
        func = option(func)
    return func


def _gap_filters(since, until, channel) -> Filters:
    return _filters(False, False, since, until, None, None, channel)


def _grouper(config: Config, encoders=None):
    from insights import open_grouper

    return open_grouper(config, encoders)


def _day(ts: str | None) -> str:
    return (ts or "")[:10]


def _excluded(report) -> str:
    parts = [f"{n} {reason.replace('_', '-')}" for reason, n in report.excluded.items() if n]
    return ", ".join(parts) if parts else "nothing"


@logs.command(name="gaps")
@gap_options
@click.option("--include-handled", is_flag=True, help="Also the questions of gaps already marked handled.")
@click.option("-n", "--top", default=30, show_default=True, type=click.IntRange(1, MAX_ROWS), help="How many gaps.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def gaps_command(since, until, channel, include_handled, top, as_json) -> None:
    """Content gaps: unanswered questions grouped by meaning, biggest first.

    Emergencies, greetings and follow-ups that lean on the conversation are left
    out (and counted). Mark a gap dealt with by its key: `logs handle KEY`."""
    config = load_config()
    log = _open(config)
    filters = _gap_filters(since, until, channel)
    report = _grouper(config).report(log.engine, filters, include_handled=include_handled)
    shown = report.groups[:top]
    if as_json:
        data = report.to_dict()
        data["groups"] = data["groups"][:top]
        data["total_groups"] = len(report.groups)
        _json(data)
        return
    click.echo(f"{report.considered} unanswered questions: {report.grouped} in {len(report.groups)} gaps; "
               f"left out: {_excluded(report)}.")  # fmt: skip
    if report.capped:
        click.echo(f"(only the newest {report.read} were read; narrow with --since/--until)")
    if not report.groups:
        click.echo("No content gaps.")
    for group in shown:
        when = _day(group.first_ts) if _day(group.first_ts) == _day(group.last_ts) else f"{_day(group.first_ts)} – {_day(group.last_ts)}"
        handled = f"  handled {group.handled_ts[:16].replace('T', ' ')}" if group.handled and group.handled_ts else ""
        click.echo(f"\n{group.key}  {group.count:>4} ×  {when}  {','.join(group.langs)}{handled}")
        click.echo(f"    {one_line(group.label, GAP_CHARS)}")
        for example in group.examples:
            if example != group.label:
                click.echo(f"      - {one_line(example, GAP_CHARS)}")
    if len(report.groups) > top:
        click.echo(f"\n… and {len(report.groups) - top} more gaps (--top).")


@logs.command(name="handle")
@click.argument("key")
@gap_options
@click.option("--note", help="What was done (e.g. the article written).")
@click.option("--undo", is_flag=True, help="Mark the gap as not handled after all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def handle_command(key, since, until, channel, note, undo, as_json) -> None:
    """Mark a content gap handled (its questions leave `logs gaps`); KEY as `logs gaps` shows it,
    with the same --since/--until/--channel."""
    from insights import mark_group

    config = load_config()
    log = _open(config)
    marked = mark_group(log.engine, _grouper(config), _gap_filters(since, until, channel), key.strip(), note, undo=undo)
    if marked is None:
        raise click.ClickException(
            f"No content gap has the key {key} with these filters (new questions change a gap's key); run `articlebot logs gaps` for the current keys."
        )
    if as_json:
        _json({"key": key, "undo": undo, "exchanges": marked})
    elif undo:
        click.echo(f"Gap {key}: {counted(marked, 'question')} marked not handled.")
    else:
        click.echo(f"Gap {key}: {counted(marked, 'question')} marked handled.")


def _score(value: float) -> str:
    """A score to three places, never "-0.000"."""
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text


@logs.command(name="reask")
@click.option("--group", "key", help="Only this gap (its key as `logs gaps` shows it); default: every gap.")
@gap_options
@click.option("--include-handled", is_flag=True, help="Also the gaps already marked handled.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def reask_command(key, since, until, channel, include_handled, as_json) -> None:
    """Ask the gaps' questions again against the current index (after a re-index: which are answered now)."""
    from bot.service import open_pipeline
    from insights import reask

    config = load_config()
    log = _open(config)
    pipeline = open_pipeline(config)
    report = _grouper(config, pipeline.searcher.encoders).report(log.engine, _gap_filters(since, until, channel),
                                                                 include_handled=include_handled)  # fmt: skip
    groups = report.groups
    if key:
        groups = [g for g in groups if g.key == key.strip()]
        if not groups:
            raise click.ClickException(
                f"No content gap has the key {key} with these filters (new questions change a gap's key); run `articlebot logs gaps` for the current keys."
            )
    out = []
    for group in groups:
        results = reask(pipeline, group.questions)
        out.append({"key": group.key, "label": group.label, "count": group.count, "results": [r.to_dict() for r in results]})
    results = [r for g in out for r in g["results"]]
    totals = {
        "groups": len(out),
        "questions": len(results),
        "answered": sum(1 for r in results if r["answered"]),
        "emergency": sum(1 for r in results if r["emergency"]),
        "not_covered": sum(1 for r in results if not r["answered"] and not r["emergency"]),
        "exchanges_answered": sum(len(r["exchange_ids"]) for r in results if r["answered"]),
        "groups_answered": sum(1 for g in out if g["results"] and all(r["answered"] for r in g["results"])),
    }
    index = pipeline.searcher.index.meta.version
    if as_json:
        _json({"index": index, "groups": out, "totals": totals})
        return
    for group in out:
        click.echo(f"\n{group['key']}  {group['count']:>4} ×  {group['label']}")
        for r in group["results"]:
            if r["answered"]:
                status, detail = "answered", f"  → {r['title'] or r['article']} ({r['score']:.3f})"
            elif r["emergency"]:
                status, detail = "emergency", f"  ({r['emergency']})"
            else:
                status, detail = "not covered", f"  (best passage {r['best_score']:.3f})" if r["best_score"] is not None else ""
            click.echo(f"    {status:<12} {r['question']}{detail}")
    if not out:
        click.echo("No content gaps to re-ask.")
    click.echo(f"\nIndex {index}: {totals['answered']} of {totals['questions']} questions answered now, {totals['not_covered']} still not covered"
               f"{', ' + str(totals['emergency']) + ' emergency' if totals['emergency'] else ''}; "
               f"{totals['groups_answered']} of {totals['groups']} gaps answered in full.")  # fmt: skip


@logs.command(name="articles")
@gap_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def articles_command(since, until, channel, as_json) -> None:
    """Every indexed article: how often answers quoted it and their 👍 / 👎; the articles never quoted."""
    from insights import article_report

    config = load_config()
    log = _open(config)
    with _index_store(config) as store:
        if store is None:
            raise click.ClickException(f"No index in {config.data_dir}; run `articlebot index` first.")
        articles = store.article_rows()
    report = article_report(log.engine, articles, _gap_filters(since, until, channel))
    if as_json:
        _json(report.to_dict())
        return
    click.echo(f"{len(report.articles)} indexed articles; {report.exchanges} answers quoted them.\n")
    click.echo(f"  {'quoted':>6}  {'👍':>4}  {'👎':>4}  {'last quoted':<11}  article")
    for a in report.articles:
        click.echo(f"  {a.quoted:>6}  {a.up:>4}  {a.down:>4}  {_day(a.last_quoted) or '-':<11}  {a.title or a.path}  ({a.path})"
                   + (f"  {a.url}" if a.url else ""))  # fmt: skip
    click.echo("\nNever quoted:")
    for a in report.never_quoted:
        copy = "  - a copy of another article: never quoted, the other one is" if a.chunks == 0 else ""
        click.echo(f"  {a.title or a.path}  ({a.path})" + (f"  {a.url}" if a.url else "") + copy)
    if not report.never_quoted:
        click.echo("  (none)")
    if report.not_indexed:
        click.echo("\nQuoted in the log but no longer in the index:")
        for a in report.not_indexed:
            click.echo(f"  {a.quoted:>6} ×  {a.title or a.path}  ({a.path})")
