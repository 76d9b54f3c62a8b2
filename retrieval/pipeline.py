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
from retrieval import demands, followup, gate
from retrieval.gate import clauses
from retrieval.passages import choose, choose_more
from retrieval.records import Answer
from retrieval.safety import Assessment, RedFlags
from retrieval.search import Searcher

MAX_QUESTION_CHARS = 1000  # what is searched and shown of a message
MAX_MESSAGE_CHARS = 100_000  # what the red flags read and the log keeps (Telegram sends at most 4,096; a terminal has no limit)
MORE_PAGE = 2  # passages per "more" page
MORE_DEPTH = 20  # hits searched beyond those shown: the quoted articles' further passages rank below other articles' first two (stages.diversify)


def tidy_question(raw: str) -> str:
    """Cleaned like any input (common.text.clean_input), white space collapsed."""
    return normalize_space(clean_input(raw))


def prepared(raw: str) -> tuple[str, str, int | None]:
    """A message as the bot reads it: (the question as shown: tidied and, when over
    MAX_QUESTION_CHARS, reduced to its question part, `question_part`; what is searched for
    it: the same in simplified characters (common.text.to_simplified: the asides, follow-up
    cues and the index are written so) without its asides, followup.py; the limit, when
    part of the message was left out, or None). `articlebot calibrate` reads its labelled
    questions the same way."""
    question = tidy_question(raw)
    truncated_at = None
    if len(question) > MAX_QUESTION_CHARS:
        question, left_out = question_part(question, MAX_QUESTION_CHARS)
        truncated_at = MAX_QUESTION_CHARS if left_out else None
    # "好的谢谢。对了，…": what is asked, searched; "打完瘦臉針還會…" is searched as "打完瘦脸针还会…"
    return question, followup.without_asides(to_simplified(question)), truncated_at


SEARCH_CHARS = 200  # a message longer than this is also searched by what it asks (asked_part)
_ENDS_ASKING = re.compile(r"(?:[?？]|[吗呢么嘛吧][\W_]*)$")


def asked_part(text: str, limit: int = SEARCH_CHARS) -> str:
    """What of a chatty message is also searched (Pipeline.answer answers by the reading whose
    best passage clears its threshold by more): a message over `limit` characters by the last
    sentence that asks something (`asks`: the question a worried story ends with), then the
    others that end in a question mark or particle, the last first, up to `limit`, in their
    order; with none, its end. A statement that merely holds a question word ("grapes are so
    expensive", 没什么大事) is left out. Embedded whole, a question after 300 characters about
    the weather and the cat is drowned in them (see the README's figures)."""
    if len(text) <= limit:
        return text
    pieces = _pieces(text, limit)
    strong = [i for i in reversed(range(len(pieces))) if _ENDS_ASKING.search(pieces[i])]
    asking = [i for i in reversed(range(len(pieces))) if i in strong or asks(pieces[i])]
    kept, size = set(), 0
    for i in dict.fromkeys(asking[:1] + strong):
        if size + len(pieces[i]) <= limit:
            kept.add(i)
            size += len(pieces[i])
    if not kept:
        return text[-limit:]
    return _joined([pieces[i] for i in sorted(kept)], text)


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
    return _joined(kept, question)


# What makes a sentence ask something: a question mark, a question particle or word
_ASKS_RE = re.compile(
    r"[?？]|[吗呢么嘛][\W_]*$|怎么|怎样|咋|如何|多久|多长|多少|什么|啥|为什么|为啥|哪|能不能|会不会|是不是|可不可以|可以吗|要不要|有没有|行不行"
    r"|\b(?:what|how|why|when|which|where|who|can|could|should|is|are|do|does|will|would|any)\b",
    re.IGNORECASE,
)
_PIECE_CHARS = 200  # a sentence longer than this (chatty Chinese without punctuation) is taken clause by clause


# 没什么大事, 不怎么吃: a negation, no question (有没有什么办法 still asks)
_NOT_ASKING_RE = re.compile(r"(?<!有)[没不](?:有)?(?:什么|啥|怎么|多少|多久|哪)")


def asks(sentence: str) -> bool:
    """Whether a sentence of a message asks something (a question mark, 吗, 怎么, how, ...)."""
    return bool(_ASKS_RE.search(_NOT_ASKING_RE.sub("", sentence)))


def question_part(message: str, limit: int) -> tuple[str, bool]:
    """A message over `limit` characters as it is read, and whether some of it was left out:
    said once (without_repeats: nothing is lost), and if still too long, the sentences that
    ask something (the last first: a rambling message tends to end with its question) and its
    first sentence (which tends to say what it is about), then its last sentences, from the
    end back, up to a quarter of `limit` more (a story drowns the question it ends with in
    search), or up to `limit` when no sentence asks; in their order, "…" where some were left out."""
    text = without_repeats(message)
    if len(text) <= limit:
        return text, False
    pieces = [part[: limit - 2] for part in _pieces(text, _PIECE_CHARS)]  # a piece longer than the limit: its start
    asking = [i for i in reversed(range(len(pieces))) if asks(pieces[i])]
    kept, size = set(), 1  # room for a final "…"; each piece counts one more, for a "…" before it
    for i in dict.fromkeys([*asking, 0]):
        if size + len(pieces[i]) + 1 <= limit:
            kept.add(i)
            size += len(pieces[i]) + 1
    room = limit if not asking else min(limit, size + limit // 4)
    for i in reversed(range(len(pieces))):
        if i not in kept:
            if size + len(pieces[i]) + 1 > room:
                break
            kept.add(i)
            size += len(pieces[i]) + 1
    out, previous = [], -1
    for i in sorted(kept):
        out += ["\u2026", pieces[i]] if i != previous + 1 else [pieces[i]]
        previous = i
    out += ["\u2026"] if previous != len(pieces) - 1 else []
    return _joined(out, text), True


def _pieces(text: str, long: int) -> list[str]:
    """A message's sentences, a sentence longer than `long` characters clause by clause (chatty
    Chinese without full stops)."""
    return [part for sentence in split_sentences(text) for part in (clauses(sentence) if len(sentence) > long else [sentence])]


def _joined(pieces: list[str], text: str) -> str:
    """Pieces of `text` written together again: with spaces in English, without in Chinese."""
    return (" " if detect_language(text) == "en" else "").join(pieces)


def asks_for_more(raw: str) -> bool:
    """Whether a message asks for more of the previous answer (followup.asks_for_more), read as
    the pipeline reads any message (`prepared`: 還有呢 as 还有呢, asides out)."""
    return followup.asks_for_more(prepared(raw)[1])


def _margin(answer: Answer) -> float:
    """How far an answer's most relevant hit is above its threshold (-inf with no hit)."""
    return max((h.score for h in answer.hits), default=float("-inf")) - (answer.threshold or 0.0)


def notice_only(answer: Answer) -> Answer:
    """An emergency's answer: the get-help-now notice is all of it, as a quote after it (a
    massage routine, "耐心等待") would only distract or reassure; what was retrieved stays in
    `hits` for the log. Any other answer as it is."""
    if answer.safety.emergency:
        answer.refused, answer.passages = True, []
    return answer


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

    def answer(self, raw_question: str, context: str | None = None, seen: Collection[str] = (), *,
               after: Assessment | None = None) -> Answer:  # fmt: skip
        """Answer one message (never raises for odd input: empty, huge, odd Unicode).

        `context`: the previous question of the same conversation (as it was searched),
        if it is recent; a message that leans on it is answered as a follow-up (followup.py).
        `seen`: the answering sentences the conversation was already shown, which a
        follow-up does not quote again while another passage qualifies (passages.choose).
        `after`: what the previous answer's red flags were (its notice), when known; else
        the previous question is assessed again where it decides something.
        """
        message = tidy_question(raw_question)[:MAX_MESSAGE_CHARS]
        context = tidy_question(context or "")
        question, core, truncated_at = prepared(message)
        lang = detect_language(question)
        if not any(ch.isalnum() for ch in question):
            if kind := followup.emoji_kind(question):  # "👍" / "🙏" after an answer: answered in kind
                return Answer(question, lang, refused=True, hits=[], social=kind, message=message)
            return Answer(question, lang, refused=True, hits=[], empty=True, message=message)
        if followup.is_social(core):
            # "谢谢" / "你好" / "ok thanks": nothing to search, and the conversation keeps its topic (nothing is searched)
            answer, followed = Answer(question, lang, refused=True, hits=[], social=followup.social_kind(core)), False
        else:
            answer, followed = self._answer_in_context(core, lang, context, seen)
            asked = asked_part(core)
            if asked != core:
                # a long message is also searched by what it asks, and answered by the reading whose
                # best passage clears its threshold by more: a story about the weather and the cat
                # drowns the question it ends with, while in a story about the injection and the
                # symptoms the statements say what the question is about
                alternative = self._answer_in_context(asked, lang, context, seen)
                if _margin(alternative[0]) > _margin(answer):
                    answer, followed = alternative
        answer.question = question
        answer.message = message
        answer.truncated_at = truncated_at
        answer.followed = followed
        # the message itself, all of it: context never masks an emergency, and nor does a long preamble
        answer.safety = self.red_flags.assess(message)
        if not answer.safety.emergency and context and not answer.social:
            # the previous message is assessed again only where it decides something (each costs an embedding)
            # (as it was answered: an emergency the two messages before it told together is one too,
            # "我昨天刚打的瘦脸针" / "眼皮也有点耷拉 看东西有重影" / "我在家躺一下应该没事吧")
            before = (after or self.red_flags.assess(context)) if followed else None
            if before is not None and before.emergency:
                # a follow-up of an emergency ("ok but how long until it wears off", "我在家躺一下应该没事吧")
                # gets its notice again, never quotes that reassure; a new topic after it starts afresh
                answer.safety = before
            else:
                # the conversation can describe one that neither message does alone: "我昨天打的瘦脸针…"
                # / "眼皮也有点耷拉 看东西有重影" (the injection in one, the symptoms in the other); one the
                # previous message described alone is not carried over to a new topic
                together = self.red_flags.assess(f"{context}\n{message}")
                if together.emergency and not (before or self.red_flags.assess(context)).emergency:
                    answer.safety = together
        return notice_only(answer)

    def _answer_in_context(self, core: str, lang: str, context: str, seen: Collection[str] = ()) -> tuple[Answer, bool]:
        """A message's answer, alone or, when it leans on the conversation, with `context` (tidied;
        "" for none; `seen`: what the conversation was shown), and whether it was read as a
        follow-up of `context`."""
        answer = self._answer(core, lang)
        if context and self._follows_up(core, answer, context):
            combined = self._answer(followup.combine(context, core), lang, asked=core, seen=seen)
            if not combined.refused or answer.refused:
                # refused either way, it is still refused as part of the conversation, whose
                # topic the next message then keeps ("脸歪了" / "那我跟我老公商量一下" / "还能恢复吗")
                return combined, True
        return answer, False

    def _answer(self, searched: str, lang: str, asked: str | None = None, seen: Collection[str] = ()) -> Answer:
        # logged, and remembered as the conversation's topic, as it is searched (typos mended)
        searched, asked = self.searcher.mend(searched), asked and self.searcher.mend(asked)
        hits = self.searcher.search(without_repeats(searched), self.top_k, asked=asked)
        answer = choose(asked or searched, hits, lang, self.threshold(searched, lang), seen=seen)
        unmet = None if answer.refused else demands.unmet(asked or searched, [p.hit.text for p in answer.passages],
                                                          self.searcher.index.lexical, lang)  # fmt: skip
        if unmet:
            # on the topic, but what is asked (a comparison, a price) is not in what would be quoted
            answer.refused, answer.passages, answer.unmet = True, [], unmet
        answer.searched = searched
        return answer

    def threshold(self, searched: str, lang: str) -> float:
        """The relevance a passage needs to be quoted for this text (gate.py)."""
        return gate.threshold(self.min_score, self.offsets, searched, lang)

    def _follows_up(self, message: str, alone: Answer, context: str) -> bool:
        """Whether a message is read with the conversation's previous question(s) `context`
        (followup.py): it says it continues, or it is short and names no subject of its own, only
        what is asked of one or nothing at all ("是啥原因引起的", "any treatment?", "一般要多久",
        followup.names_no_subject), or it is short, nothing answers it on its own, and it asks
        whether things are all right ("躺一下应该没事吧") or the articles use at least one of its
        words (not "红烧肉怎么做", a new topic). Never when it asks the previous question again of a subject the articles
        never name ("那骨折要多久恢复", followup.other_subject): that is a new topic."""
        lexical = self.searcher.index.lexical
        if followup.other_subject(context, alone.searched, lexical.idf):  # the message as searched: typos mended
            return False
        if followup.leans_on_context(message) or (followup.is_short(message) and followup.names_no_subject(message)):
            return True
        return followup.is_short(message) and alone.refused and (
            lexical.knows_any_term(message, alone.lang) or followup.asks_if_alright(message)
        )

    def answer_more(self, raw_message: str, question: str, lang: str, shown: Collection[str], *,
                    after: Assessment | None = None) -> Answer:  # fmt: skip
        """A message that asks for more of the previous answer (followup.asks_for_more: "还有呢",
        "more?"), as a "more" button would: the next relevant passages of `question` (as
        searched, in language `lang`) not in `shown`, or refused when relevance has dropped
        (no question: nothing to go on from). The reply is in the conversation's language (`lang`:
        "more?" after a conversation in Chinese is a request for more Chinese quotes, framed in
        Chinese, as the "more" button's are), else the message's. After an
        emergency (`after`, the previous question's assessment) the notice is given again and
        nothing quoted; the message itself is read for red flags as always."""
        message = tidy_question(raw_message)[:MAX_MESSAGE_CHARS]
        answer = self.more(question, lang, shown) if question else Answer(message, lang, refused=True, hits=[])
        answer.question, answer.message, answer.searched, answer.more = message[:MAX_QUESTION_CHARS], message, question, True
        answer.lang = lang or (detect_language(message) if any(ch.isalpha() for ch in message) else "zh")
        answer.safety = self.red_flags.assess(message)
        if not answer.safety.emergency and after is not None and after.emergency:
            answer.safety = after
        return notice_only(answer)

    def more(self, question: str, lang: str, shown: Collection[str]) -> Answer:
        """The next relevant passages for a question of the articles its answer quoted (`shown`,
        the chunks quoted so far: passages.more_candidates), refused when there are none."""
        hits = self.searcher.search(question, len(shown) + MORE_DEPTH)
        articles = self.searcher.index.store.articles_of(shown)
        return choose_more(question, hits, lang, self.threshold(question, lang), shown=set(shown), page=MORE_PAGE,
                           articles=articles)  # fmt: skip

    def has_more(self, question: str, lang: str, shown: Collection[str]) -> bool:
        """Whether "more" would quote something after `shown` (worth a "more" button); the
        question's vector is remembered (QueryBatcher), so this costs a search without the model."""
        return bool(question) and not self.more(question, lang, shown).refused
