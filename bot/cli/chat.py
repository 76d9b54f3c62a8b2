"""The terminal chat: the same service as the Telegram bot, one question per line."""

from __future__ import annotations

from typing import TextIO

from bot.service import Service
from presentation.plain import render_text, with_disclaimer
from presentation.texts import CHAT_GREETING

EXIT_WORDS = {"exit", "quit", "q", "bye", "退出", "再见"}


def run_chat(service: Service, stdin: TextIO, stdout: TextIO, *, interactive: bool, user: str | None = None) -> int:
    """Read questions until end of input or an exit word; returns the number answered (each one logged)."""
    print(with_disclaimer(CHAT_GREETING, "zh"), file=stdout)
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
        service.respond(question, lambda answer: print(render_text(answer), file=stdout, flush=True), channel="chat", user=user)
        answered += 1
    return answered
