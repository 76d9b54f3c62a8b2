"""What retrieval hands to the channels: hits, quoted passages and answers (records, never sentences).

Wording is the presentation layer's job (`presentation/`): an `Answer` says what was
asked, what was found, what to quote and what safety found; the reply is rendered
from it as plain text or Telegram HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retrieval.safety import Assessment


@dataclass
class Hit:
    """One retrieved passage: `score` is its relevance; the parts it is made of are kept too."""

    chunk_id: str
    article: str
    title: str
    url: str | None
    heading: str | None
    text: str
    score: float
    dense: float = 0.0
    coverage: float = 0.0
    fused: float = 0.0
    row: int = 0  # the chunk's row id in the index version it came from
    sentence_scores: list[float] | None = None  # each sentence's answer score (sentences.py)
    lang: str = ""  # the passage's language
    evidence: float | None = None  # how strongly it answers, which orders the hits (stages.by_evidence); None: not measured
    further: tuple[float | None, ...] = ()  # each further model's cosine above its background (stages.score); None: not stored
    sentence_cosines: np.ndarray | None = field(default=None, compare=False, repr=False)  # the question's cosine with each stored sentence vector (stages.sentence_cosines)

    @property
    def order(self) -> float:
        """What ranks the hit among the others: its evidence, or its relevance without it."""
        return self.score if self.evidence is None else self.evidence


@dataclass
class Passage:
    """A quoted excerpt of a hit, and the sentence in it that answers (shown marked)."""

    hit: Hit
    excerpt: str
    focus: str = ""


@dataclass
class Answer:
    """Everything about one reply: what was asked, what was found, what to quote."""

    question: str
    lang: str
    refused: bool
    hits: list[Hit]
    passages: list[Passage] = field(default_factory=list)
    empty: bool = False  # nothing to search for (no letter or digit in the message)
    truncated_at: int | None = None  # the question was cut to this many characters
    safety: Assessment = field(default_factory=Assessment)
    threshold: float | None = None  # the relevance a passage needed to be quoted (gate.py)
    searched: str = ""  # the question as searched: the message, or with the conversation's previous question (followup.py)
    social: str = ""  # a message of pleasantries only: followup.GREETING, THANKS or OTHER (answered in kind, nothing searched)
    message: str = ""  # the whole message (tidied; pipeline.MAX_MESSAGE_CHARS at most): what the red flags read and the log keeps
    followed: bool = False  # read with the conversation's previous question (`searched` holds both; followup.py)
    more: bool = False  # the message asked for more of the previous answer ("还有呢"): `passages` are its next ones, if any
    unmet: str = ""  # refused as asking what no passage on its topic holds: demands.COMPARISON, PRICE or LOCAL

    @property
    def emergency(self) -> str | None:
        """The red-flag category, if the message describes an emergency."""
        return self.safety.emergency
