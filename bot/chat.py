"""The terminal chat: the same answer pipeline as the Telegram bot, one question per line."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from retrieval.answer import Pipeline
from retrieval.compose import Answer
from retrieval.compose import with_disclaimer

GREETING = (
    "您好！我会引用健康科普文章来回答您的问题。输入问题后回车；输入 exit 或按 Ctrl-D 退出。\n"
    "Hello! Ask a health question and I will quote the articles. Type exit or press Ctrl-D to quit."
)
EXIT_WORDS = {"exit", "quit", "q", "bye", "退出", "再见"}


def run_chat(
    pipeline: Pipeline,
    stdin: TextIO,
    stdout: TextIO,
    *,
    interactive: bool,
    on_answer: Callable[[Answer, int], None] | None = None,
) -> int:
    """Read questions until end of input or an exit word; returns the number answered.

    `on_answer(answer, latency_ms)` is called after each reply is printed (the log).
    """
    print(with_disclaimer(GREETING, "zh"), file=stdout)
    answered = 0
    while True:
        if interactive:
            print("\n> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        question = line.strip()
        if question.lower() in EXIT_WORDS:
            break
        if not interactive:
            print(f"\n> {question}", file=stdout)
        started = time.monotonic()
        answer = pipeline.answer(question)
        print(answer.text, file=stdout, flush=True)
        if on_answer:
            on_answer(answer, round((time.monotonic() - started) * 1000))
        answered += 1
    return answered
