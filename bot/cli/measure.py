"""Measuring: `eval` (retrieval recall and MRR on a question -> passage set), `eval-answers`
(labelled conversations through the bot's own path) and `calibrate` (the refusal threshold)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from bot.cli.common import load_config, show_progress
from retrieval.gate import format_offsets


@click.command(name="eval")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--compare", is_flag=True, help="Score dense, lexical and fused (hybrid) search side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_(folder: Path, compare: bool, as_json: bool) -> None:
    """Measure retrieval on FOLDER/corpus.jsonl and FOLDER/queries.jsonl (recall@1/5/10, MRR@10)."""
    from bot.service import make_encoders
    from retrieval.evaluate import evaluate

    config = load_config()
    modes = ("dense", "lexical", "hybrid") if compare else ("hybrid",)
    results = evaluate(folder, make_encoders(config), modes=modes, progress=show_progress() and not as_json,
                       cache=config.data_dir / "eval-vectors.sqlite")  # fmt: skip
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
    click.echo(f"{first['queries']} queries, model{'s' if config.extra_models else ''} {' + '.join(config.models)}")
    if first["relevant_collapsed"]:
        click.echo(
            f"  {first['relevant_collapsed']} of them have an answer whose text another passage holds; "
            "that passage counts for it (it is what search returns)"
        )
    click.echo(f"  {'search':<8} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7}   latency per question (ms)")
    for mode, f in results.items():
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in f["latency_ms"].items())
        click.echo(f"  {mode:<8} {f['R@1']:>6.3f} {f['R@5']:>6.3f} {f['R@10']:>6.3f} {f['MRR@10']:>7.3f}   {stages}")


SPLIT = click.option("--split", help='Only the lines whose "split" is this (e.g. tune, held-out).')


def _labelled(path: Path, split: str | None, single_turn: bool):
    from bot.answers_eval import LabelError, read_labelled

    try:
        lines = read_labelled(path, split=split, single_turn=single_turn)
    except LabelError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    if not lines:
        raise click.ClickException(f"{path} has no labelled lines{f' in the split {split!r}' if split else ''}.")
    return lines


@click.command(name="eval-answers")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SPLIT
@click.option("--single-turn", is_flag=True, help="Only the lines with one message.")
@click.option("--failures", is_flag=True, help="Also list every line the bot got wrong.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_answers(labelled: Path, split: str | None, single_turn: bool, failures: bool, as_json: bool) -> None:
    """Run LABELLED conversations through the bot's own answering path and score the replies.

    LABELLED has one JSON object a line: {"turns": [...], "article": "file.txt" or
    null, "expect": "text" (optional), "emergency": true/false (optional), "tags":
    [...]}. Reported overall and per tag: answered from the right article, expected
    text in the reply, refusal precision and recall, emergency recall and false alarms.
    """
    from bot import answers_eval
    from bot.service import Service, open_pipeline

    lines = _labelled(labelled, split, single_turn)
    config = load_config()
    service = Service(open_pipeline(config), log=None)  # measuring is not a conversation: nothing is logged
    outcomes = answers_eval.run(service, lines)
    table = answers_eval.report(outcomes)
    wrong = answers_eval.failures(outcomes) if failures else None
    if as_json:
        click.echo(json.dumps({"models": config.models, "figures": table, **({"failures": wrong} if failures else {})},
                              ensure_ascii=False))  # fmt: skip
        return
    click.echo(f"{len(lines)} labelled lines, model{'s' if config.extra_models else ''} {' + '.join(config.models)},"
               f" threshold {config.min_score} {format_offsets(config.min_score_offsets)}".rstrip())  # fmt: skip
    columns = [("right_article", "right art."), ("expected_text", "expected"), ("refusal_precision", "refusal P"),
               ("refusal_recall", "refusal R"), ("emergency_recall", "emerg. R"), ("false_alarms", "false alarm")]  # fmt: skip
    click.echo(f"  {'tag':<16} {'lines':>5} " + " ".join(f"{title:>13}" for _, title in columns))
    for tag, row in table.items():
        cells = []
        for key, _ in columns:
            cell = row[key]
            cells.append(f"{'-':>13}" if cell["share"] is None else f"{cell['share']:>6.3f} {cell['hits']:>3}/{cell['of']:<3}")
        click.echo(f"  {tag:<16} {row['lines']:>5} " + " ".join(cells))
    for item in wrong or []:
        click.echo(f"  line {item['line']}: {' / '.join(item['turns'])[:80]} -> {'; '.join(item['problems'])}")


@click.command()
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SPLIT
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate(labelled: Path, split: str | None, as_json: bool) -> None:
    """Choose the refusal threshold on LABELLED questions (the eval-answers format; single-turn lines).

    Lines marked as emergencies are left out. Prints, per coverage weight, the single threshold that classifies the most
    questions correctly, with refusal precision and recall; then, at the configured
    weight, the gate chosen per language and for long messages (to set in
    ARTICLEBOT_MIN_SCORE and ARTICLEBOT_MIN_SCORE_OFFSETS, as the README says) and the
    configured gate's figures. Tune on one split, check on another.
    """
    from bot.service import open_pipeline
    from retrieval.calibrate import calibrate as run_calibration
    from retrieval.calibrate import calibrate_gate, evaluate_threshold, score_questions

    # an emergency gets the safety notice whatever the gate decides: it is no evidence either way
    lines = [item for item in _labelled(labelled, split, single_turn=True) if item.emergency is not True]
    if not lines:
        raise click.ClickException(f"{labelled}: no single-turn line that is not an emergency to calibrate on.")
    config = load_config()
    pipeline = open_pipeline(config)
    scored = score_questions(pipeline.searcher, [{"question": item.turns[0], "article": item.article} for item in lines])
    weight = pipeline.searcher.coverage_weight
    grid = run_calibration(scored)
    base, offsets = calibrate_gate(scored, weight)
    chosen = evaluate_threshold(scored, weight, base, offsets)
    current = evaluate_threshold(scored, weight, config.min_score, dict(config.min_score_offsets))
    if as_json:
        click.echo(json.dumps({"grid": grid, "gate": chosen, "configured": current}, ensure_ascii=False))
        return
    click.echo(f"{current['questions']['on_topic']} on-topic and {current['questions']['off_topic']} off-topic questions, model {config.model}")
    click.echo(f"  {'weight':>6} {'threshold':>9} {'refusal P':>9} {'refusal R':>9} {'answered':>8} {'right art.':>10}  offsets")
    for row, mark in [*((row, "") for row in grid), (chosen, "  <- chosen gate"), (current, "  <- configured")]:
        click.echo(
            f"  {row['weight']:>6.2f} {row['threshold']:>9.3f} {row['refusal_precision']:>9.3f} {row['refusal_recall']:>9.3f}"
            f" {row['on_topic_answered']:>8.3f} {row['on_topic_right_article']:>10.3f}  {format_offsets(row['offsets']) or '-'}{mark}"
        )
    spec = format_offsets(offsets) or '""'
    click.echo(f"To use the chosen gate: ARTICLEBOT_MIN_SCORE={base} ARTICLEBOT_MIN_SCORE_OFFSETS={spec}")


def _red_flag_items(labelled: Path, split: str | None):
    from retrieval.redflag_eval import LabelError, load

    try:
        return load(labelled, split)
    except LabelError as exc:
        raise click.ClickException(str(exc)) from None


def _red_flags(meaning: bool):
    from bot.service import open_red_flags

    config = load_config()
    return open_red_flags(replace(config, redflag_meaning=config.redflag_meaning and meaning))


def _share(cell: dict) -> str:
    """A share with its counts; "-" for a share of nothing (a file of emergencies only has no false alarm to count)."""
    return f"{'-' if cell['share'] is None else format(cell['share'], '.3f')} ({cell['hits']}/{cell['of']})"


def _echo_red_flag_figures(name: str, f: dict) -> None:
    click.echo(f"{name:<8} recall {_share(f['recall'])}   false alarms {_share(f['false_alarms'])}"
               f"   wrong category {f['wrong_category']}")  # fmt: skip
    click.echo("         " + "  ".join(f"{k} {v['hits']}/{v['of']}" for k, v in f["per_category"].items()))
    click.echo("         by writing: " + "  ".join(f"{k} {v['hits']}/{v['of']}" for k, v in f["per_tag"].items()))
    click.echo("         false alarms: " + "  ".join(f"{k} {v['hits']}/{v['of']}" for k, v in f["per_kind"].items()))


@click.command(name="eval-redflags")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SPLIT
@click.option("--no-meaning", is_flag=True, help="The rules alone (as with ARTICLEBOT_REDFLAG_MEANING=0).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_redflags(labelled: Path, split: str | None, no_meaning: bool, as_json: bool) -> None:
    """Measure the red flags on LABELLED messages: emergency recall per category and false
    alarms per kind, for the rules, the meaning layer and both together (as the bot runs
    them), with the milliseconds each adds per message.

    LABELLED has one JSON object a line: {"message": "...", "category": "stroke" or null
    (not an emergency), "tags": [...], "split": "tune" or "held-out"}; for an ordinary
    message, its second tag is its kind. The bundled one is tests/data/emergencies.jsonl."""
    from retrieval.redflag_eval import evaluate

    items = _red_flag_items(labelled, split)
    result = evaluate(_red_flags(not no_meaning), items)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"{result['messages']} messages; rules {result['rules_ms']} ms a message, meaning layer {result['meaning_ms']} ms "
               f"(embedding included)" + (f"; threshold {result['threshold']}" if "threshold" in result else ""))  # fmt: skip
    for name in ("rules", "meaning", "both"):
        if name in result:
            _echo_red_flag_figures(name, result[name])


@click.command(name="calibrate-redflags")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SPLIT
@click.option("--budget", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="The share of ordinary messages the meaning layer may add as false alarms.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate_redflags(labelled: Path, split: str | None, budget: float, as_json: bool) -> None:
    """Choose the meaning layer's threshold on LABELLED messages: the lowest at which it adds at
    most BUDGET false alarms to the rules'. Prints the grid; write the chosen value into the
    [meaning] table of the examples file (ARTICLEBOT_REDFLAG_EXAMPLES; by default the bundled
    one). Tune on one split, check on another."""
    from retrieval.redflag_eval import choose_threshold, scores

    items = _red_flag_items(labelled, split)
    red_flags = _red_flags(True)
    if red_flags.meaning is None:
        raise click.ClickException("The meaning layer is switched off (ARTICLEBOT_REDFLAG_MEANING=0): nothing to calibrate.")
    rules, meaning, _, _ = scores(red_flags, items)
    result = choose_threshold(items, rules, meaning, budget)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{len(items)} messages; the meaning layer may add {budget:.1%} false alarms")
    click.echo(f"  {'threshold':>9} {'meaning R':>9} {'meaning FA':>10} {'both R':>7} {'both FA':>7} {'added FA':>8}")
    for row in result["grid"]:
        mark = "  <- chosen" if row is result["chosen"] else ""
        click.echo(f"  {row['threshold']:>9.2f} {row['meaning_recall']:>9.3f} {row['meaning_false_alarms']:>10.3f} {row['recall']:>7.3f}"
                   f" {row['false_alarms']:>7.3f} {row['added_false_alarms']:>8.3f}{mark}")  # fmt: skip
    click.echo(f"Configured: {red_flags.meaning.threshold}. To use the chosen one: [meaning] threshold = {result['chosen']['threshold']}")
