"""Which passages to quote, and the excerpt of each: the decision between quoting and refusing.

A question is answered when at least one hit reaches the relevance threshold
(`min_score`: for a message, gate.threshold; relevance: `retrieval.stages.relevance`); otherwise it is refused, and the
presentation layer says the articles do not cover it. What is quoted is the hit that
ranks first (by evidence, stages.by_evidence). Passages are trimmed to
the sentences that answer the question: the sentence with the best answer score
(meaning and terms, see sentences.py), kept whole and marked as the focus, with the
sentence after it for context, then the passage's next best sentences, up to a
length that reads well on a phone (in text order, "…" where sentences are left out).

A second passage is quoted when it reaches the threshold itself and ranks within
SECOND_PASSAGE_MARGIN of the first by evidence: the answer is often in another chunk
of the same article. On the tuning half, expected text in the reply 73 of 97 lines
at 0.03, 75 at 0.05, 0.08 or no limit, 62 at 0.

Two passages of one article are quoted in the order of their answering sentences (the best
answer score first): evidence chooses the article, but of its passages the one with the
definition can have more evidence than the one with the duration a "多久能恢复" asks for.
Expected text in the first passage quoted, tuning half 68 -> 70 of 97 lines, conversation
probe 17 -> 20 of 32 (2026-11-24); what is quoted, and so every other figure, is unchanged.
Reordering passages of different articles so too was measured and dropped: tuning half
right article 105 -> 108 of 116, but 7 fewer over the probes (English 25 -> 23 of 36).

How long: 240 characters of Chinese (about ten lines on a phone) and 400 of English. At 180
characters the verdict that opens a long passage ("一般情况下,瘦脸针导致的脸颊凹陷、皮肤松弛大多
可以恢复。") was left out whenever the answering sentence and its neighbour were elsewhere in it.
Expected text in the reply on the tuning half, 2026-11-24: 80 of 97 lines at 180, 83 at 210 and
240, 84 at 260 and 300; the conversation probe 22 of 32 at each.

Why the next best and not only the neighbours: the sentence that answers is often
the second or third best of its passage, and further away than the neighbours
reach. On the tuning half of tests/data/answers.jsonl, expected text in the reply
went from 62 to 69 of 97 lines (held-out half: 51 to 53 of 88) against widening
with neighbours, after first, then before.
"""

from __future__ import annotations

from collections.abc import Collection

from common.text import is_latin, tokenize
from retrieval.records import Answer, Hit, Passage
from retrieval.sentences import units

EXCERPT_CHARS = {"zh": 240, "en": 400}  # about ten lines of a phone either way (see the module's docstring)
MAX_PASSAGES = 2
SECOND_PASSAGE_MARGIN = 0.05  # a second passage is quoted only if it ranks this close to the first (by evidence)
MORE_DROP = 0.05  # "more" offers passages at most this far below the question's best (relevance, stages.relevance)


def excerpt(text: str, question: str, limit: int, scores: list[float] | None = None) -> tuple[str, str]:
    """The part of `text` that best answers `question`, about `limit` characters, and the
    sentence in it that answers (the focus, never cut).

    `scores`: each sentence's answer score (sentences.answer_scores, computed by the
    search); without them, the sentence sharing the most search terms with the question.
    """
    latin = is_latin(text)
    sentences = units(text)
    if not sentences:
        return "", ""
    if scores is None or len(scores) != len(sentences):
        q_terms = set(tokenize(question))
        scores = [len(q_terms & set(tokenize(s))) for _, s in sentences]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    if len(text) > limit:
        kept = {best}
        size = len(sentences[best][1])
        # context: the sentence after the answer; then the best of the rest (the nearest of equals)
        rest = sorted(range(len(sentences)), key=lambda i: (i != best + 1, -scores[i], abs(i - best), i))
        for i in rest:
            if i not in kept and size + len(sentences[i][1]) <= limit:
                kept.add(i)
                size += len(sentences[i][1])
        order = sorted(kept)
    else:
        order = list(range(len(sentences)))
    ellipsis = "..." if latin else "…"
    # English: spaced, so that a cut after a full stop reads "weeks. ..." and not "weeks...."
    lead, trail = ("... ", " ...") if latin else (ellipsis, ellipsis)
    body = ("" if order[0] == 0 else lead) + sentences[order[0]][1]
    for prev, i in zip(order, order[1:]):
        if i != prev + 1:  # sentences left out
            body += f" {ellipsis} " if latin else ellipsis
        else:
            body += "\n" if sentences[i][0] != sentences[prev][0] and not latin else " " if latin else ""
        body += sentences[i][1]
    return body + ("" if order[-1] == len(sentences) - 1 else trail), sentences[best][1]


def choose(question: str, hits: list[Hit], lang: str, min_score: float, *, seen: Collection[str] = ()) -> Answer:
    """Decide between quoting and refusing, and pick the passages to quote.

    The decision is the answer's: the question is answered when its most relevant hit
    reaches `min_score`. What is quoted first is then the first hit (`hits` come in the
    search's order: by evidence, stages.by_evidence, then an optional re-ranker's; of
    hits without evidence, the most relevant), even where its own relevance is lower:
    a passage that answers in one sentence can score less as a whole than a neighbour
    that only shares the topic. A second passage is quoted when it reaches `min_score`
    itself and ranks close to the first; when both are of one article, the one whose answering
    sentence scores higher (sentences.answer_scores) is quoted first.

    `seen`: the answering sentences (`Passage.focus`) the conversation has already been
    shown. A follow-up ("那要多久能恢复") is searched with the question before it, so the
    passage that answered that question tends to come first again; a passage whose answering
    sentence was already shown is quoted again only when it still answers best (its answering
    sentence scores above those of the passages not shown, sentences.answer_scores: "还会好吗"
    after "脸颊凹陷…大多可以恢复" was shown) or when no other passage qualifies."""
    if not hits or max(h.score for h in hits) < min_score:
        return Answer(question, lang, refused=True, hits=hits, threshold=min_score)
    first = hits[0] if hits[0].evidence is not None else max(hits, key=lambda h: h.score)  # max: the first of equals
    others = [h for h in hits if h is not first and h.score >= min_score and h.order >= first.order - SECOND_PASSAGE_MARGIN]
    chosen = [first, *others]
    if seen:
        quoted = quote(chosen, question)
        best_fresh = max((_answering(p.hit) for p in quoted if p.focus not in seen), default=None)
        if best_fresh is not None:
            chosen = [p.hit for p in quoted if p.focus not in seen or _answering(p.hit) > best_fresh]
    chosen = chosen[:MAX_PASSAGES]
    if len({h.article for h in chosen}) == 1:
        # one article's passages: the one whose sentence answers best opens the reply (the article
        # is chosen by evidence; "多久能恢复" is answered by its duration, not by its definition)
        chosen.sort(key=_answering, reverse=True)
    return Answer(question, lang, refused=False, hits=hits, passages=quote(chosen, question), threshold=min_score)


def _answering(hit: Hit) -> float:
    """How well a hit's answering sentence answers (its best answer score; its relevance without)."""
    return max(hit.sentence_scores) if hit.sentence_scores else hit.score


def more_candidates(hits: list[Hit], shown: set[str] | tuple[str, ...], min_score: float, articles: Collection[str]) -> list[Hit]:
    """The hits worth offering under "more": not quoted yet, from the articles already quoted
    (`articles`; any article when none is known), above the threshold and not far below the
    best hit (MORE_DROP); past that, "more" says there is nothing further.

    Why only the quoted articles: "more" asks for more of that answer. On the tuning half of
    tests/data/answers.jsonl (its 93 answered single-turn questions with an article, paged
    until "more" ran out, 2026-11-25), "more" quoted 94 passages of the labelled article and
    322 of others ("打瘦脸针会导致面瘫吗", more: the causes of an uneven face); now 140 and
    54. Every passage of the labelled article that only another article's page reached
    (17, tuning half and English probe) followed a first reply from the wrong article."""
    if not hits:
        return []
    floor = max(min_score, max(h.score for h in hits) - MORE_DROP)
    return [h for h in hits if h.chunk_id not in shown and h.score >= floor and (not articles or h.article in articles)]


def choose_more(question: str, hits: list[Hit], lang: str, min_score: float, *, shown: set[str], page: int,
                articles: Collection[str]) -> Answer:
    """The next `page` relevant passages not quoted yet ("more") of the articles quoted
    (more_candidates); refused when there are none."""
    rest = more_candidates(hits, shown, min_score, articles)[:page]
    return Answer(question, lang, refused=not rest, hits=hits, passages=quote(rest, question), threshold=min_score)


def quote(hits: list[Hit], question: str) -> list[Passage]:
    """The hits as passages, each trimmed to the part that answers the question."""
    limit = EXCERPT_CHARS["en" if all(is_latin(h.text) for h in hits) else "zh"]
    return [Passage(h, *excerpt(h.text, question, limit, h.sentence_scores)) for h in hits]
