"""The answer pipeline shared by the terminal chat, `articlebot ask` and the Telegram bot:
tidy the question, search, choose the passages, check for red flags."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from common.text import (
    clean_input,
    detect_language,
    fold,
    normalize_space,
    split_sentences,
    to_simplified,
)
from retrieval import followup, gate
from retrieval.lexical import names_nothing
from retrieval.passages import choose, choose_more
from retrieval.records import Answer
from retrieval.safety import RedFlags
from retrieval.search import Searcher

MAX_QUESTION_CHARS = 1000  # what is searched and shown of a message
MAX_MESSAGE_CHARS = 100_000  # what the red flags read and the log keeps (Telegram sends at most 4,096; a terminal has no limit)
MORE_PAGE = 2  # passages per "more" page


def tidy_question(raw: str) -> str:
    """Cleaned like any input (common.text.clean_input), white space collapsed."""
    return normalize_space(clean_input(raw))


def prepared(raw: str) -> tuple[str, str, int | None]:
    """A message as the bot reads it: (the question as logged and shown: tidied and cut at
    MAX_QUESTION_CHARS; what is searched for it: the same in simplified characters
    (common.text.to_simplified: the asides, follow-up cues and the index are written so)
    without its asides, followup.py; where it was cut, or None). `articlebot calibrate`
    reads its labelled questions the same way."""
    question = tidy_question(raw)
    truncated_at = None
    if len(question) > MAX_QUESTION_CHARS:
        question, truncated_at = question[:MAX_QUESTION_CHARS], MAX_QUESTION_CHARS
    # "好的谢谢。对了，…": what is asked, searched; "打完瘦臉針還會…" is searched as "打完瘦脸针还会…"
    return question, followup.without_asides(to_simplified(question)), truncated_at


# The same words three times or more in a row, with no punctuation between them
# ("打瘦脸针会导致面瘫吗打瘦脸针会导致面瘫吗…"); a unit of up to 100 characters (a 1,000-character
# message without any costs about 3 ms).
_RUN_RE = re.compile(r"(.{2,100}?)\1{2,}", re.DOTALL)


def without_repeats(question: str) -> str:
    """The question with sentences it repeats said once, and words it repeats in a row said
    once: "我很担心。" four hundred times, or a question pasted again and again without
    punctuation, adds no meaning and would drown the question in search (numbers are kept
    as written: "1111" is no repeat)."""
    question = _RUN_RE.sub(lambda m: m.group(1) if any(ch.isalpha() for ch in m.group(1)) else m.group(0), question)
    seen: set[str] = set()
    kept = []
    for sentence in split_sentences(question):
        key = fold(sentence)
        if key not in seen:
            seen.add(key)
            kept.append(sentence)
    return " ".join(kept) if detect_language(question) == "en" else "".join(kept)


@dataclass
class Pipeline:
    """Question in, `Answer` out."""

    searcher: Searcher
    min_score: float  # the refusal threshold's base; gate.py adds `offsets` per language and for long messages
    top_k: int = 5
    red_flags: RedFlags | None = None
    offsets: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if self.red_flags is None:
            self.red_flags = RedFlags.load()

    def answer(self, raw_question: str, context: str | None = None) -> Answer:
        """Answer one message (never raises for odd input: empty, huge, odd Unicode).

        `context`: the previous question of the same conversation (as it was searched),
        if it is recent; a message that leans on it is answered as a follow-up (followup.py).
        """
        message = tidy_question(raw_question)[:MAX_MESSAGE_CHARS]
        context = tidy_question(context or "")
        question, core, truncated_at = prepared(message)
        lang = detect_language(question)
        if not any(ch.isalnum() for ch in question):
            return Answer(question, lang, refused=True, hits=[], empty=True, message=message)
        if followup.is_social(core):
            # "谢谢" / "你好" / "ok thanks": nothing to search, and the conversation keeps its topic (nothing is searched)
            answer = Answer(question, lang, refused=True, hits=[], social=followup.social_kind(core))
        else:
            answer = self._answer_in_context(core, lang, context)
        answer.question = question
        answer.message = message
        answer.truncated_at = truncated_at
        # the message itself, all of it: context never masks an emergency, and nor does a long preamble
        answer.safety = self.red_flags.assess(message)
        if not answer.safety.emergency and context and not answer.social:
            # the conversation can describe one that neither message does alone: "我昨天打的瘦脸针…"
            # / "眼皮也有点耷拉 看东西有重影" (the injection in one, the symptoms in the other); one
            # the previous message described alone is never carried over to the next
            together = self.red_flags.assess(f"{context}\n{message}")
            if together.emergency and not self.red_flags.assess(context).emergency:
                answer.safety = together
        if answer.safety.emergency:
            # the get-help-now notice is the whole answer: a quote after it (a massage routine, "耐心等待")
            # would only distract or reassure; what was retrieved stays in `hits` for the log
            answer.refused, answer.passages = True, []
        return answer

    def _answer_in_context(self, core: str, lang: str, context: str) -> Answer:
        """A message's answer, alone or, when it leans on the conversation, with `context` (tidied; "" for none)."""
        answer = self._answer(core, lang)
        if context and self._follows_up(core, answer):
            combined = self._answer(followup.combine(context, core), lang, asked=core)
            if not combined.refused or answer.refused:
                # refused either way, it is still refused as part of the conversation, whose
                # topic the next message then keeps ("脸歪了" / "那我跟我老公商量一下" / "还能恢复吗")
                answer = combined
        return answer

    def _answer(self, searched: str, lang: str, asked: str | None = None) -> Answer:
        # logged, and remembered as the conversation's topic, as it is searched (typos mended)
        searched, asked = self.searcher.mend(searched), asked and self.searcher.mend(asked)
        hits = self.searcher.search(without_repeats(searched), self.top_k, asked=asked)
        answer = choose(asked or searched, hits, lang, self.threshold(searched, lang))
        answer.searched = searched
        return answer

    def threshold(self, searched: str, lang: str) -> float:
        """The relevance a passage needs to be quoted for this text (gate.py)."""
        return gate.threshold(self.min_score, self.offsets, searched, lang)

    def _follows_up(self, message: str, alone: Answer) -> bool:
        """Whether a message is read with the conversation's previous question (followup.py):
        it says it continues, or it is short, nothing answers it on its own, and it names
        nothing of its own ("一般要多久") or the articles use at least one of its words
        (not "红烧肉怎么做", a new topic)."""
        if followup.leans_on_context(message):
            return True
        lexical = self.searcher.index.lexical
        return followup.is_short(message) and alone.refused and (names_nothing(message) or lexical.knows_any_term(message, alone.lang))

    def more(self, question: str, lang: str, shown: Collection[str]) -> Answer:
        """The next relevant passages for a question, skipping the chunks already quoted."""
        hits = self.searcher.search(question, len(shown) + 2 * MORE_PAGE + 1)  # enough to tell if a page follows
        return choose_more(question, hits, lang, self.threshold(question, lang), shown=set(shown), page=MORE_PAGE)
