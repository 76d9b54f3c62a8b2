"""Measuring search: `eval` (recall and MRR on a labelled set) and `calibrate` (the refusal threshold)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.common import load_config, show_progress


@click.command(name="eval")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--compare", is_flag=True, help="Score dense, lexical and fused (hybrid) search side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_(folder: Path, compare: bool, as_json: bool) -> None:
    """Measure retrieval on FOLDER/corpus.jsonl and FOLDER/queries.jsonl (recall@1/5/10, MRR@10)."""
    from bot.service import make_encoder
    from retrieval.evaluate import evaluate

    config = load_config()
    modes = ("dense", "lexical", "hybrid") if compare else ("hybrid",)
    results = evaluate(folder, make_encoder(config), modes=modes, progress=show_progress() and not as_json)
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


@click.command()
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate(labelled: Path, as_json: bool) -> None:
    """Choose the refusal threshold on LABELLED questions (JSON lines: question, article or null).

    Prints, per coverage weight, the threshold that classifies the most questions
    correctly, with refusal precision and recall, and the same figures for the
    configured threshold (ARTICLEBOT_MIN_SCORE).
    """
    from bot.service import open_pipeline
    from common.jsonl import read_jsonl
    from retrieval.calibrate import calibrate as run_calibration
    from retrieval.calibrate import evaluate_threshold, score_questions
    from retrieval.stages import COVERAGE_WEIGHT

    config = load_config()
    pipeline = open_pipeline(config)
    scored = score_questions(pipeline.searcher, read_jsonl(labelled))
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
