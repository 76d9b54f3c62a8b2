"""The service every channel shares: the pipeline and the log assembled from configuration,
and the one "answer, then record" path used by `ask`, `chat` and Telegram.

A channel calls `Service.answer` (search, choose passages, prepare the log entry),
delivers the reply its own way (print, send), then calls `Service.record` (latency
until delivery, user pseudonym, log write). `respond` does the three in a row for
synchronous channels.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.conversations import Conversations
from common.clock import shown_stamp
from common.text import CJK_RE, clean_input
from convlog import (
    ConversationLog,
    ExchangeRecord,
    LogError,
    load_salt,
    log_url,
    record_of,
)
from embeddings import Encoder, load_encoder, resolve_model
from presentation.plain import render_text
from retrieval.index import Index
from retrieval.pipeline import Pipeline, asks_for_more
from retrieval.records import Answer
from retrieval.redflag_meaning import for_search
from retrieval.safety import DEFAULT_RULES, RedFlags
from retrieval.search import Searcher


@dataclass
class LibraryInfo:
    """What /start and /about say about the corpus."""

    articles: int
    chunks: int
    indexed_at: str
    model: str
    titles: list[str]


@dataclass
class Exchange:
    """One question in flight: its answer and the log entry written once the reply is out."""

    answer: Answer
    entry: ExchangeRecord
    started: float  # time.monotonic() when the question arrived
    user: int | str | None = None  # the raw user id; the log decides how it is stored
    delivered_at: float | None = None

    @property
    def id(self) -> str:
        return self.entry.id

    def delivered(self) -> None:
        """Stop the clock: the reply has gone out (`Service.record` does it if the channel did not)."""
        self.delivered_at = time.monotonic()

    def undelivered(self, reason: str) -> None:
        """The reply could not be delivered: the exchange is logged all the same, with why."""
        self.delivered_at = time.monotonic()
        self.entry.delivery_error = reason[:500]


def make_encoders(config: Config) -> list[Encoder]:
    """The configured embedding models, the primary first (ARTICLEBOT_QUERY_PREFIX applies to it)."""
    return [
        load_encoder(name, backend=config.backend, query_prefix=config.query_prefix if i == 0 else None,
                     cache_dir=config.model_cache)  # fmt: skip
        for i, name in enumerate(config.models)
    ]


def open_red_flags(config: Config, searcher: Searcher | None = None) -> RedFlags:
    """The red-flag rules and, unless ARTICLEBOT_REDFLAG_MEANING=0, the meaning layer (safety.py)."""
    meaning = for_search(searcher, config.redflag_examples, config.data_dir) if config.redflag_meaning else None
    return RedFlags.load(config.redflags or DEFAULT_RULES, meaning=meaning)


def open_pipeline(config: Config) -> Pipeline:
    """Load the live index (checking its model first, which is cheap) and then the model."""
    for model in config.models:  # a misspelt model is named as such, not as "the index was built with another"
        resolve_model(model)
    index = Index.load(config.data_dir, config.models)
    encoders = make_encoders(config)
    return pipeline_for(config, Searcher(index, encoders, data_dir=config.data_dir))  # follows re-indexes while running


def pipeline_for(config: Config, searcher: Searcher) -> Pipeline:
    """The bot's pipeline over `searcher`: the configured threshold, passages and red flags."""
    red_flags = open_red_flags(config, searcher)
    return Pipeline(searcher, min_score=config.min_score, top_k=config.top_k, red_flags=red_flags, offsets=config.min_score_offsets)


def open_log(config: Config) -> ConversationLog | None:
    """The conversation log, or None (with a line on stderr) when it cannot be opened:
    answering goes on without it."""
    try:
        url = log_url(config.data_dir, config.log_url)
        return ConversationLog(url, salt=load_salt(config.data_dir, config.log_salt), raw_user_ids=config.log_raw_user_ids,
                               spool=Path(config.data_dir) / "logs.unwritten.jsonl", wait_for_server=True)
    except (LogError, OSError) as exc:
        print(f"articlebot: conversations will not be logged: {exc}", file=sys.stderr)
        return None


class Service:
    """The answer pipeline plus the conversation log (None: answer without logging)."""

    def __init__(self, pipeline: Pipeline, log: ConversationLog | None = None):
        self.pipeline = pipeline
        self.log = log
        self.conversations = Conversations()

    @classmethod
    def from_config(cls, config: Config) -> Service:
        """Open the configured index, model and log."""
        return cls(open_pipeline(config), open_log(config))

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    def answer(self, question: str, *, channel: str, user: int | str | None = None, chat_type: str | None = None,
               lang_hint: str | None = None, started: float | None = None, conversation: Hashable | None = None,
               context: str | None = None) -> Exchange:
        """Answer a question and prepare its log entry (written by `record` once the reply is out).

        `lang_hint` is the channel's idea of the user's language, used when the
        message has no words to tell it by; `started` is when the question arrived
        (default: now), if the channel queued it before calling. `conversation`: the
        key of the conversation the message belongs to (its previous question, if
        recent, is the context of a follow-up); `context` overrides that previous
        question (a reply to one of the bot's answers: the question it was for).
        """
        started = time.monotonic() if started is None else started
        question = clean_input(question)  # the entry of every channel: nothing after sees raw bytes
        turn = self.conversations.last(conversation)
        if context is None and asks_for_more(question):
            # "还有呢" / "more?" typed: what the "more" button does, where the last answer stopped (an
            # emergency's notice again; "no more" after a refusal; with no question before it, asks for one)
            answer = self.pipeline.answer_more(question, turn.searched if turn else "", turn.lang if turn else "",
                                               turn.shown if turn else (), after=turn.safety if turn else None)  # fmt: skip
            self.conversations.quoted_more(conversation, [p.hit.chunk_id for p in answer.passages], [p.focus for p in answer.passages])
        else:
            # a reply to one of the bot's answers (`context` given) is read with that answer's question;
            # a message in the conversation, with its previous one, and not quoting what it was shown again
            seen, after = (turn.seen, turn.safety) if context is None and turn else ((), None)
            context = turn.searched if context is None and turn else clean_input(context or "") or None
            answer = self.pipeline.answer(question, context=context, seen=seen, after=after)
            self.conversations.remember(conversation, answer.searched, answer.lang, [p.hit.chunk_id for p in answer.passages],
                                        answer.safety, [p.focus for p in answer.passages])  # fmt: skip
        if not any(ch.isalpha() for ch in answer.question) and (answer.empty or answer.social):
            # "👍", "?": no words to tell the language by; the conversation's, else the channel's
            answer.lang = (turn.lang if turn else None) or lang_hint or answer.lang
        elif answer.social and turn and turn.lang and not CJK_RE.search(answer.question):
            answer.lang = turn.lang  # "ok" / "thanks" after a conversation in Chinese: answered in Chinese
        meta = self.pipeline.searcher.index.meta
        entry = record_of(
            answer,
            channel=channel,
            reply=render_text(answer),
            latency_ms=0,
            model=meta.model,
            index_version=meta.version,
            chat_type=chat_type,
        )
        if self.log is not None:
            self.log.expect(entry.id)  # feedback may arrive before the row is written
        return Exchange(answer, entry, started, user)

    def record(self, exchange: Exchange) -> None:
        """Log an exchange once its reply went out or failed to (its latency counts the
        delivery; `Exchange.undelivered` says why it failed); never raises."""
        if exchange.delivered_at is None:
            exchange.delivered()
        exchange.entry.latency_ms = round((exchange.delivered_at - exchange.started) * 1000)
        if self.log is not None:
            exchange.entry.user_id = self.log.user(exchange.user)
            self.log.record(exchange.entry)

    def respond(self, question: str, deliver: Callable[[Answer], None], *, channel: str, user: int | str | None = None,
                conversation: Hashable | None = None) -> Exchange:
        """Answer, deliver, record: the whole path for a synchronous channel."""
        exchange = self.answer(question, channel=channel, user=user, conversation=conversation)
        deliver(exchange.answer)
        self.record(exchange)
        return exchange

    def library(self) -> LibraryInfo:
        """What the live index holds (for /start and /about)."""
        self.pipeline.searcher.refresh(force=True)
        index = self.pipeline.searcher.index
        return LibraryInfo(
            articles=index.meta.articles,
            chunks=index.meta.chunks,
            indexed_at=shown_stamp(index.meta.created),
            model=index.meta.model,
            titles=[title or path for path, title, _ in index.store.articles()],
        )
