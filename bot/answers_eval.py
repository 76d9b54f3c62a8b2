"""`articlebot eval-answers`: labelled conversations through the path the bot uses, scored.

A labelled file has one JSON object a line::

    {"turns": ["打瘦脸针会导致面瘫吗", "那要多久能恢复"],   # what the user sends, in order
     "article": "botox-facial-palsy-recovery.txt",       # the article that answers the last turn; null: must refuse
     "expect": "数天到数周",                              # optional: text the reply must contain
     "emergency": false,                                  # optional: true = must say "get help now"
     "tags": ["conversation"],                            # optional: figures are also given per tag
     "split": "tune",                                     # optional: "tune" or "held-out"
     "reply_to": 0}                                       # optional: see below

A line with `"question": "..."` instead of `turns` is a plain question. Every turn
goes through `Service.answer` (what the terminal chat and Telegram call) with no
conversation log, one conversation per line, so a turn is understood as a follow-up
of the turns before it exactly as in a chat. With `"reply_to": n` the last turn is
a reply, by another member of a group, to the bot's answer to turn n (counted from
0): its context is the question that answer was for, not the sender's own
conversation. The last turn's answer and its plain-text reply (`render_text`, what
the terminal prints and the log stores) are judged.

Figures, overall and per tag:

- right article: of the lines that name an article, the share whose reply quotes
  that article first;
- expected text: of the lines with `expect`, the share whose reply contains it;
- refusal precision: of the refused replies, the share on lines that must be refused
  (article null); refusal recall: of the lines that must be refused, the share refused
  (emergencies are neither: their reply is the get-help-now notice);
- emergency recall: of the lines marked `"emergency": true`, the share flagged;
  false alarms: of the other lines, the share flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.service import Service
from common.jsonl import read_jsonl
from common.text import normalize_space
from presentation.plain import render_text

OVERALL = "all"


class LabelError(ValueError):
    """A labelled line cannot be used (said with its line number)."""


@dataclass
class Labelled:
    """One labelled conversation."""

    line: int
    turns: list[str]
    article: str | None
    expect: str | None = None
    emergency: bool | None = None
    tags: list[str] = field(default_factory=list)
    split: str | None = None
    reply_to: int | None = None

    @property
    def single_turn(self) -> bool:
        return len(self.turns) == 1


def parse(records: Iterable[dict]) -> list[Labelled]:
    """Labelled lines from JSON objects (line numbers from 1), checking each."""
    out = []
    for n, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            raise LabelError(f"line {n}: not a JSON object")
        turns = rec.get("turns")
        if turns is None and isinstance(rec.get("question"), str):
            turns = [rec["question"]]
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise LabelError(f'line {n}: "turns" must be a non-empty list of messages')
        article = rec.get("article")
        if article is not None and not isinstance(article, str):
            raise LabelError(f'line {n}: "article" must be a file name or null')
        tags = rec.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise LabelError(f'line {n}: "tags" must be a list of words')
        emergency = rec.get("emergency")
        if emergency is not None and not isinstance(emergency, bool):
            raise LabelError(f'line {n}: "emergency" must be true or false')
        reply_to = rec.get("reply_to")
        if reply_to is not None and (isinstance(reply_to, bool) or not isinstance(reply_to, int) or not 0 <= reply_to < len(turns) - 1):
            raise LabelError(f'line {n}: "reply_to" must be the number of an earlier turn (from 0)')
        out.append(Labelled(n, turns, article, rec.get("expect") or None, emergency, tags, rec.get("split"), reply_to))
    return out


def read_labelled(path: Path, *, split: str | None = None, single_turn: bool = False) -> list[Labelled]:
    """The labelled lines of a file, optionally only one split and/or only single-turn lines."""
    try:
        records = read_jsonl(path)
    except ValueError as exc:
        raise LabelError(f"{path} is not JSON lines: {exc}") from None
    lines = parse(records)
    if split:
        lines = [item for item in lines if item.split == split]
    if single_turn:
        lines = [item for item in lines if item.single_turn]
    return lines


@dataclass
class Outcome:
    """What the bot did with one labelled line."""

    item: Labelled
    refused: bool
    emergency: bool
    article: str | None  # the article quoted first, if any
    reply: str

    @property
    def right_article(self) -> bool:
        return not self.refused and self.article == self.item.article

    @property
    def expect_found(self) -> bool:
        return self.item.expect is not None and normalize_space(self.item.expect) in normalize_space(self.reply)


def run(service: Service, lines: list[Labelled]) -> list[Outcome]:
    """Every line's turns through the service, in order; the last turn's answer judged."""
    outcomes = []
    for item in lines:
        searched: list[str] = []
        conversation = ("eval", item.line)
        for n, turn in enumerate(item.turns):
            if n == len(item.turns) - 1 and item.reply_to is not None:  # another member replies to an answer
                exchange = service.answer(turn, channel="eval", conversation=("eval", item.line, "other"),
                                          context=searched[item.reply_to] or None)  # fmt: skip
            else:
                exchange = service.answer(turn, channel="eval", conversation=conversation)
            searched.append(exchange.answer.searched)
        answer = exchange.answer
        first = answer.passages[0].hit.article if answer.passages else None
        outcomes.append(Outcome(item, answer.refused, answer.emergency is not None, first, render_text(answer)))
    return outcomes


def _share(hits: int, total: int) -> dict:
    return {"share": round(hits / total, 4) if total else None, "hits": hits, "of": total}


def figures(outcomes: list[Outcome]) -> dict:
    """The figures of one group of lines (see the module's docstring)."""
    on_topic = [o for o in outcomes if o.item.article is not None]
    with_expect = [o for o in outcomes if o.item.expect is not None]
    # an emergency gets the get-help-now notice: neither an answer nor a refusal
    must_refuse = [o for o in outcomes if o.item.article is None and o.item.emergency is not True]
    refused = [o for o in outcomes if o.refused and not o.emergency]
    emergencies = [o for o in outcomes if o.item.emergency is True]
    others = [o for o in outcomes if o.item.emergency is not True]
    return {
        "lines": len(outcomes),
        "right_article": _share(sum(o.right_article for o in on_topic), len(on_topic)),
        "expected_text": _share(sum(o.expect_found for o in with_expect), len(with_expect)),
        "refusal_precision": _share(sum(o.item.article is None for o in refused), len(refused)),
        "refusal_recall": _share(sum(o.refused for o in must_refuse), len(must_refuse)),
        "emergency_recall": _share(sum(o.emergency for o in emergencies), len(emergencies)),
        "false_alarms": _share(sum(o.emergency for o in others), len(others)),
    }


def report(outcomes: list[Outcome]) -> dict:
    """{"all": figures, tag: figures, ...} (tags in alphabetical order)."""
    out = {OVERALL: figures(outcomes)}
    for tag in sorted({t for o in outcomes for t in o.item.tags}):
        out[tag] = figures([o for o in outcomes if tag in o.item.tags])
    return out


def failures(outcomes: list[Outcome]) -> list[dict]:
    """The lines the bot got wrong, and how (for `--failures`)."""
    wrong = []
    for o in outcomes:
        problems = []
        if o.item.article is None and o.item.emergency is not True and not o.refused:
            problems.append(f"answered from {o.article} (should refuse)")
        elif o.item.article is not None and not o.right_article:
            problems.append("refused" if o.refused else f"quoted {o.article} first")
        if o.item.expect is not None and not o.expect_found:
            problems.append(f"reply lacks {o.item.expect!r}")
        if o.item.emergency is True and not o.emergency:
            problems.append("emergency missed")
        if o.item.emergency is not True and o.emergency:
            problems.append("false emergency")
        if problems:
            wrong.append({"line": o.item.line, "turns": o.item.turns, "article": o.item.article, "problems": problems})
    return wrong
