"""The terminal chat: the same service as the Telegram bot, one question per line.

The session is one conversation: a follow-up ("那要多久能恢复") is understood with the
question before it (retrieval/followup.py). With `--json`, each line of input is a
question and each answer one JSON object on its own line, for scripts. Either way an
exit word alone on a line ("exit", "退出") ends the session, as at the prompt.
"""

from __future__ import annotations

import json
from typing import TextIO

from bot.service import Service
from common.text import clean_input
from presentation.plain import render_text, with_disclaimer
from presentation.texts import CHAT_GREETING, DISCLAIMER
from retrieval.records import Answer

EXIT_WORDS = {"exit", "quit", "q", "bye", "退出", "再见"}


def answer_json(answer: Answer) -> dict:
    """An answer as `ask --json` and `chat --json` print it."""
    hits = [
        {"article": h.article, "title": h.title, "chunk_id": h.chunk_id, "score": round(h.score, 4), "text": h.text}
        for h in answer.hits
    ]
    return {"question": answer.question, "searched": answer.searched or answer.question, "reply": render_text(answer),
            "refused": answer.refused, "emergency": bool(answer.emergency), "hits": hits}  # fmt: skip


def run_chat(service: Service, stdin: TextIO, stdout: TextIO, *, interactive: bool, user: str | None = None,
             as_json: bool = False) -> int:
    """Read questions until end of input or an exit word; returns the number answered (each one logged).
    `as_json`: no greeting or echo, one JSON object a line, every other line a question."""
    if not as_json:
        print(with_disclaimer(CHAT_GREETING, "zh") + "\n" + DISCLAIMER["en"], file=stdout)  # a greeting in both languages
    answered = 0
    conversation = ("chat", user)

    def show(answer: Answer) -> None:
        text = json.dumps(answer_json(answer), ensure_ascii=False) if as_json else render_text(answer)
        print(text, file=stdout, flush=True)

    while True:
        if interactive:
            print("\n> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        question = clean_input(line).strip()  # the entry: nothing after it sees invalid text
        if question.lower() in EXIT_WORDS:
            break
        if not interactive and not as_json:
            print(f"\n> {question}", file=stdout)
        service.respond(question, show, channel="chat", user=user, conversation=conversation)
        answered += 1
    return answered
