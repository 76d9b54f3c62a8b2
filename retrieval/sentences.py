"""The sentences of a passage, their vectors, and which one answers a question.

A chunk is a few hundred characters; a reply quotes less, and the sentence that
answers must be in it. Every chunk's sentences are embedded at index time by the
primary model (stored in the version's `sentences` table, reused across
re-indexes through the vector cache like chunk vectors), so choosing the
answering sentence costs no extra embedding at question time: the question's
vector is already there.

A sentence's answer score is its cosine with the question (meaning) times
SENTENCE_COSINE_WEIGHT plus the IDF-weighted share of the question's terms it
holds, across languages through the dictionary bridge (lexical.text_coverage).
Measured on the tuning half of tests/data/answers.jsonl (lines whose first quoted
passage is from the right article, expected text inside the excerpt): bigram
overlap as before 44/64; IDF-weighted terms alone 48/64; cosine alone 42/64;
both (weight 0.5) 48/64, and 86/121 against 84/121 for terms alone over the whole
set with right passages, the gain on rambling and English questions.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from common.text import sha256, split_sentences

SENTENCE_COSINE_WEIGHT = 0.5
NON_ANSWER_FACTOR = 0.5  # a question, or a sentence about the article itself, answers nothing

# Sentences about the article rather than its subject: introductions, tables of contents, sign-offs.
_META = re.compile(
    r"(本文|这篇文章|这篇文|下文|下面(?:我们|就|将|来)|以下(?:将|是|内容)|接下来|让我们|我们(?:将|来)(?:一起)?(?:看|了解|介绍|分析|探讨)|一起来(?:看|了解)"
    r"|目录|感谢(?:阅读|观看)|欢迎(?:关注|留言|咨询)|(?:点击|扫码)|\bin this (?:article|post|guide)\b|\bthis (?:article|post|guide) (?:will|explains|covers)\b"
    r"|\bwe will (?:discuss|look|explore|cover)\b|\btable of contents\b|\bthanks for reading\b)",
    re.IGNORECASE,
)
_QUESTION_END = re.compile(r"(?:[?？]|[吗呢么][。.!！]?)[”’」』）)\]\"']*\s*$")


# Answer types: a question asking "how long / when" is answered by a sentence with a duration.
_ASKS_DURATION = re.compile(r"多久|多长时间|多少天|几天|几周|几个月|几年|什么时候|何时|\bhow long\b|\bwhen\b|\bhow many (?:days|weeks|months|years)\b", re.IGNORECASE)
_DURATION = re.compile(
    r"(?:\d+|[一二两三四五六七八九十半数])\s*(?:-|~|～|到|至)?\s*(?:\d+)?\s*(?:个)?(?:小时|分钟|天|日|周|星期|个月|月|年)"
    r"|\b\d+\s*(?:-|to)?\s*\d*\s*(?:hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
ANSWER_TYPE_BONUS = 0.2  # added to a sentence that holds what the question asks for (a duration)


def answer_type_bonus(question: str, sentence: str) -> float:
    """ANSWER_TYPE_BONUS when the question asks how long and the sentence gives a duration."""
    return ANSWER_TYPE_BONUS if _ASKS_DURATION.search(question) and _DURATION.search(sentence) else 0.0


# Passages and their sentences are read several times for one question (evidence, excerpt,
# diversity) and again for every question that retrieves them; what depends on the text alone is
# kept, in bounded caches (measured on the bundled passages, 2026-11-24: a passage's sentences
# about 2 KB, a sentence's verdict 0.2 KB; worst case 9 and 2 MB).
PASSAGE_CACHE = 4096
SENTENCE_CACHE = 8192


@functools.lru_cache(maxsize=SENTENCE_CACHE)
def answers_nothing(sentence: str) -> bool:
    """A question (it asks, it does not answer) or a sentence about the article itself."""
    return bool(_QUESTION_END.search(sentence) or _META.search(sentence))


# A heading inside a passage: a short line of its own with no sentence punctuation at its end
# ("医生的专业背景", "4、打瘦脸针后一边脸大一边脸小怎么办"); or a lead-in ending with a colon
# ("建议采取以下步骤:"): each names a topic, what follows it answers. They are never the
# sentence in bold (10 of the tune half's 194 replies showed one as the answer; figures
# unchanged). A passage's evidence (stages.by_evidence) still counts them: leaving them out
# there too left the tune half unchanged and cost 2 right articles of 109 on the held-out half.
HEADING_CHARS = 30
_CLOSES_SENTENCE = "。！？!?；;：:，,、.…)）]】”’\"'"
_LEAD_IN = re.compile(r"[:：]\s*$")


def non_answers(found: Sequence[tuple[int, str]]) -> list[bool]:
    """For each sentence of a passage (`found`: its `units`), whether it answers nothing: a
    question, a sentence about the article itself (answers_nothing), a heading inside the
    passage or a lead-in to what follows."""
    per_line = Counter(line for line, _ in found)
    several = len(found) > 1
    return [
        answers_nothing(s)
        or (several and per_line[line] == 1 and len(s) <= HEADING_CHARS and s[-1] not in _CLOSES_SENTENCE)
        or (several and bool(_LEAD_IN.search(s)))
        for line, s in found
    ]


def units(text: str) -> list[tuple[int, str]]:
    """(line number, sentence) of a passage, in order: what an excerpt is made of and
    what is embedded sentence by sentence (line breaks are kept for inline headings)."""
    return list(_units(text))


@functools.lru_cache(maxsize=PASSAGE_CACHE)
def _units(text: str) -> tuple[tuple[int, str], ...]:
    return tuple((n, s) for n, line in enumerate(text.split("\n")) for s in split_sentences(line))


def sentence_hash(sentence: str) -> str:
    """The key of a sentence's vector in the vector cache (the same text embeds the same)."""
    return sha256(sentence)


def answer_scores(question: str, sentences: Sequence[str], cosines: np.ndarray | None, coverage: Sequence[float],
                  nothing: Sequence[bool] | None = None) -> list[float]:
    """Each sentence's answer score: meaning (cosine, when the index has sentence vectors),
    terms and answer type, lowered for a sentence that answers nothing (`nothing`, from
    non_answers; without it, answers_nothing: a question, an introduction)."""
    scores = np.asarray(coverage, dtype=np.float32)
    if cosines is not None and len(cosines) == len(scores):
        scores = scores + SENTENCE_COSINE_WEIGHT * np.asarray(cosines, dtype=np.float32)
    if nothing is None or len(nothing) != len(sentences):
        nothing = [answers_nothing(s) for s in sentences]
    return [
        (float(score) + answer_type_bonus(question, s)) * (NON_ANSWER_FACTOR if skip else 1.0)
        for s, score, skip in zip(sentences, scores, nothing)
    ]
