"""`articlebot index`: build or update the index from the article folder."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from bot.cli.common import Interrupted, counted, load_config, show_progress


@click.command()
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path),
              help="Article folder (default: ARTICLEBOT_CORPUS, else the folder the current index was built from, else the bundled corpus).")
@click.option("--full", is_flag=True, help="Re-embed every chunk instead of reusing unchanged ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Also list what the cleaner removed from each article.")
def index(corpus_dir: Path | None, full: bool, as_json: bool, verbose: bool) -> None:
    """Build or update the index from the article folder.

    Without --corpus: ARTICLEBOT_CORPUS; else the folder the current index was built from, as
    `/reindex` does, so that a plain re-index never swaps a clinic's articles for the bundled
    ones; else the bundled corpus. When the folder differs from the previous index's, one line
    says so."""
    from bot.service import make_encoders
    from corpus.load import printable
    from retrieval.build import build_index
    from retrieval.index import check_reindex_lock

    config = load_config()
    corpus_dir = corpus_dir or _default_corpus(config)
    check_reindex_lock(config.data_dir)  # say so now rather than after loading the model
    encoders = make_encoders(config)
    try:
        report = build_index(corpus_dir, config.data_dir, encoders, full=full, progress=show_progress() and not as_json)
    except KeyboardInterrupt:
        # the half-built version is never published (build_index); a running bot keeps answering from the old one
        raise Interrupted("interrupted: the index was not changed, and the previous one is still in use.") from None
    if as_json:
        click.echo(json.dumps(report_figures(report)))
        return
    click.echo(
        f"Indexed {counted(report.articles, 'article')} into {counted(report.chunks, 'chunk')} in {report.seconds:.1f} s "
        f"with {' + '.join(config.models)} -> {printable(str(config.data_dir / report.version))}"
    )
    if report.previous_corpus and report.previous_corpus != report.corpus:
        click.echo(f"  corpus: {printable(report.corpus)}, not {printable(report.previous_corpus)} as the previous index"
                   " (articles only there were removed)")  # fmt: skip
    click.echo(
        f"  articles: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged; chunks: {report.embedded} embedded, {report.chunks - report.embedded} reused"
    )
    for kind in ("added", "changed", "removed"):
        for path in getattr(report, kind):
            click.echo(f"  {kind} {path}")
    for problem in report.problems:
        click.echo(f"  skipped {problem.path}: {problem.reason}")
    for note in report.notes:
        click.echo(f"  note {note.path}: {note.reason}")
    for path, twin in sorted(report.duplicates.items()):
        click.echo(f"  duplicate {path}: same text as {twin}, which is quoted instead")
    if verbose:
        for article in report.cleaned:
            reasons = Counter(r.reason for r in article.removed)
            summary = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common()) or "nothing"
            click.echo(f"\n{article.path} — “{article.title}”: removed {summary}")
            for removed in article.removed:
                click.echo(f"    [{removed.reason}] {removed.text[:70]}")


def _default_corpus(config) -> Path:
    """ARTICLEBOT_CORPUS when set; else the folder the live index remembers, while it exists;
    else the bundled corpus (config.corpus_dir)."""
    import os

    from retrieval.index import current_version
    from retrieval.reuse import live_meta

    if (os.environ.get("ARTICLEBOT_CORPUS") or "").strip():
        return config.corpus_dir
    meta = live_meta(current_version(config.data_dir))
    if meta is not None and meta.corpus and Path(meta.corpus).is_dir():
        return Path(meta.corpus)
    return config.corpus_dir


def report_figures(report) -> dict:
    """The `index --json` object: the contract's four figures plus what changed (counts, and the
    paths), what was skipped or mended, and the corpus folder (and the previous index's)."""
    from corpus.load import printable

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
        "added_paths": report.added,
        "changed_paths": report.changed,
        "removed_paths": report.removed,
        "notes": [{"path": n.path, "note": n.reason} for n in report.notes],
        "corpus": printable(report.corpus),
        "previous_corpus": printable(report.previous_corpus),
    }
