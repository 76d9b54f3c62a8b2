"""Lexical search: BM25 (bm25s) over Chinese character bigrams and English words.

Tokenisation was chosen by measurement on the medqa retrieval set
(`articlebot eval --compare`): character bigrams matched or beat jieba words,
jieba + bigrams and unigrams + bigrams once fused with dense search, and need no
dictionary. The index is built with the rest of an index version and saved in
its folder (`bm25/`), never rebuilt per question.

Besides BM25 scores it gives the *coverage* of a question by a passage: the share
of the question's terms, weighted by IDF, that occur in the passage. Terms the
corpus never uses count fully against coverage, which is what makes an off-topic
question look off-topic (see stages.relevance).

Lexical matching is within one language. Every chunk's language is kept beside
BM25 (langs.json), and a question is matched against passages in its own
language only: an English question would otherwise rank a Chinese passage first
because it mentions "Botox" once in Latin letters, and one shared brand name
would outweigh the meaning of the rest of the question. Passages in another
language are matched through the dictionary bridge (bridge.py): the question's
terms, translated, in a second BM25 list, and a coverage of the same kind (the
IDF-weighted share of the question's words whose translation a passage holds).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from pathlib import Path

import numpy as np

from common.text import ZH_STOP_CHARS, detect_language, tokenize
from retrieval.bridge import Bridge
from retrieval.sounds import Sounds

logging.getLogger("bm25s").setLevel(logging.WARNING)


def content_terms(message: str) -> list[str]:
    """The search terms of a message once question words and particles are set aside
    (ZH_STOP_CHARS, English stop words): none for "一般要多久", "怎么办", "why not"."""
    return tokenize("".join(" " if ch in ZH_STOP_CHARS else ch for ch in message))


# When and how often something happened: it tells about the conversation's topic and names
# no topic of its own ("我是上个月打的", "打了两次", "我才打了一个礼拜", "3 weeks ago").
_ZH_NUMBER = r"(?:\d+|[一二两三四五六七八九十百半几]+)"
_TIMES = re.compile(
    rf"(?:(?:上上|下下|[上下这前今去明昨本])第?{_ZH_NUMBER}?|第?{_ZH_NUMBER})\s*个?多?"
    r"(?:小时|分钟|天|日|(?:周|星期|礼拜)[一二三四五六日天]?|月|年|次|回|针)(?:多|左右|以来|前|后|以前|以后|之前|之后)?"
    r"|昨天|前天|今天|刚才|刚刚|最近|之前|以前|已经|早就|[才刚]"
    r"|\b(?:\d+|an?|one|two|three|four|five|six|few|couple of)\s+(?:hours?|days?|weeks?|months?|years?|times?)(?:\s+ago)?\b"
    r"|\b(?:last|this|next)\s+(?:night|week|month|year|time)\b|\b(?:yesterday|today|recently|ago|already|just|once|twice)\b",
    re.IGNORECASE,
)


def without_times(message: str) -> str:
    """The message with its times and counts blanked out ("我是上个月打的" -> "我是 打的")."""
    return _TIMES.sub(" ", message)


def names_nothing(message: str) -> bool:
    """The message has no content term beyond a lone character left between question words,
    times and counts ("一般要多久", "那怎么办呢", "why not", "我是上个月打的"): it asks or
    tells about nothing of its own."""
    return all(len(t) < 2 for t in content_terms(without_times(message)))


class LexicalIndex:
    """BM25 over an index version's chunks; positions are chunk row ids minus one."""

    def __init__(self, bm25, idf: dict[str, float], num_docs: int, langs: list[str] | None = None,
                 bridge: Bridge | None = None, sounds: Sounds | None = None):
        self.bm25 = bm25
        self.sounds = sounds or Sounds()
        self.idf = idf
        self.num_docs = num_docs
        self.bridge = bridge or Bridge()
        self.langs = np.array(langs if langs is not None and len(langs) == num_docs else [""] * num_docs)
        self._others: dict[str | None, np.ndarray] = {}

    def _other(self, lang: str | None) -> np.ndarray:
        """Positions of passages in a language other than `lang` (none when unknown); read-only."""
        mask = self._others.get(lang)
        if mask is None:
            mask = np.zeros(self.num_docs, dtype=bool) if lang is None else (self.langs != lang) & (self.langs != "")
            mask.setflags(write=False)
            self._others[lang] = mask
        return mask

    @classmethod
    def build(cls, texts: list[str], langs: list[str] | None = None) -> LexicalIndex:
        import bm25s

        token_lists = [tokenize(t) for t in texts]
        bm25 = bm25s.BM25()
        bm25.index(token_lists, show_progress=False)
        df: dict[str, int] = {}
        for tokens in token_lists:
            for token in set(tokens):
                df[token] = df.get(token, 0) + 1
        n = len(texts)
        idf = {t: _idf(n, d) for t, d in df.items()}
        # a bridge only where there is another language to reach
        bridge = Bridge.build(idf) if langs is not None and len(set(langs)) > 1 else Bridge()
        return cls(bm25, idf, n, langs, bridge, Sounds.build(texts))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(folder))
        self.bridge.save(folder / "bridge.json")
        self.sounds.save(folder / "sounds.json")
        (folder / "idf.json").write_text(json.dumps({"num_docs": self.num_docs, "idf": self.idf, "langs": self.langs.tolist()}, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        meta = json.loads((folder / "idf.json").read_text("utf-8"))
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False), meta["idf"], meta["num_docs"], meta.get("langs"),
                   Bridge.load(folder / "bridge.json"), Sounds.load(folder / "sounds.json"))

    def mend(self, text: str) -> str:
        """`text` (simplified) with typos that sound like the corpus's own phrases mended (sounds.py)."""
        return self.sounds.mend(text, self.idf.__contains__)

    def search(self, question: str, k: int, lang: str | None = None) -> list[tuple[int, float]]:
        """(chunk row id, BM25 score) of the k best-scoring chunks with any term in common
        (in language `lang` only, when given)."""
        tokens = [t for t in tokenize(question) if t in self.idf]
        if not tokens or self.num_docs == 0:
            return []
        scores = self.bm25.get_scores(tokens)
        scores[self._other(lang)] = 0.0
        return _top(scores, k)

    def search_bridged(self, question: str, k: int, lang: str) -> list[tuple[int, float]]:
        """(chunk row id, BM25 score) of the k best chunks in the other language for the
        question's terms carried over by the bridge."""
        tokens = [t for _, terms in self.bridge.groups(question, lang) for term in terms for t in tokenize(term)]
        tokens = [t for t in dict.fromkeys(tokens) if t in self.idf]
        other = self._other(lang)
        if not tokens or not other.any():
            return []
        scores = self.bm25.get_scores(tokens)
        scores[~other] = 0.0
        return _top(scores, k)

    def _containing(self, tokens: list[str]) -> np.ndarray:
        """Positions of the chunks that contain every one of `tokens`."""
        vocab, postings = self.bm25.vocab_dict, self.bm25.scores
        indptr, indices = postings["indptr"], postings["indices"]
        inside = np.ones(self.num_docs, dtype=bool)
        for token in tokens:
            tid = vocab.get(token)
            if tid is None or token not in self.idf:
                return np.zeros(self.num_docs, dtype=bool)
            here = np.zeros(self.num_docs, dtype=bool)
            here[indices[indptr[tid] : indptr[tid + 1]]] = True
            inside &= here
        return inside

    def _bridged_coverage(self, question: str, lang: str, total: float) -> np.ndarray:
        """Coverage of the question by passages in the other language, on the scale of
        `coverage`: the IDF weight of the question's words (or phrases) of which a passage
        holds a translation, over `total`, the weight of all its terms."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        other = self._other(lang)
        if not total or not other.any():
            return out
        for source, terms in self.bridge.groups(question, lang):
            covered = np.zeros(self.num_docs, dtype=bool)
            for term in terms:
                tokens = tokenize(term)
                if tokens:
                    covered |= self._containing(tokens)
            out[covered & other] += self._weight(set(tokenize(source)))
        return np.minimum(out / total, 1.0)

    def coverage(self, question: str, lang: str | None = None) -> np.ndarray:
        """For every chunk (by position), the IDF-weighted share of the question's distinct terms it contains (0..1).
        Given the question's language `lang`, a chunk in another language is measured through the bridge instead.

        Read from the BM25 postings (which chunks contain each term) rather than by
        tokenising passages, so it costs about as much as the BM25 search itself.
        """
        out = np.zeros(self.num_docs, dtype=np.float32)
        terms = set(tokenize(question))
        total = self._weight(terms)
        if not total or self.num_docs == 0:
            return out
        vocab, postings = self.bm25.vocab_dict, self.bm25.scores
        indptr, indices = postings["indptr"], postings["indices"]
        for term in terms:
            tid = vocab.get(term)
            if tid is not None and term in self.idf:
                out[indices[indptr[tid] : indptr[tid + 1]]] += self.idf[term]
        out /= total
        if lang is not None:
            other = self._other(lang)
            out[other] = self._bridged_coverage(question, lang, total)[other]
        return out

    def _weight(self, terms: set[str]) -> float:
        """The IDF weight of distinct terms; a term the corpus never uses weighs the most."""
        unseen = _idf(self.num_docs, 0)
        return sum(self.idf.get(t, unseen) for t in terms)

    def knows_any_term(self, message: str, lang: str | None = None) -> bool:
        """Whether any content term of the message (question words and particles aside) occurs
        in the corpus, in its own words or, for another language, through the bridge (function
        words included: a short "可以热敷吗" or "应该没事吧" the articles do not answer alone is
        still read as part of the conversation, followup.py, and "红烧肉怎么做" is not)."""
        if any(t in self.idf for t in content_terms(message)):
            return True
        return lang is not None and any(terms for _, terms in self.bridge.groups(message, lang, function_words=True))

    def text_coverage(self, question: str, texts: list[str], lang: str | None = None) -> list[float]:
        """For each of `texts` (the sentences of a passage), the IDF-weighted share of the
        question's terms it holds; a text in another language than `lang` is measured
        through the bridge, as `coverage` measures passages."""
        terms = set(tokenize(question))
        total = self._weight(terms)
        if not total:
            return [0.0] * len(texts)
        groups = None
        out = []
        for text in texts:
            tokens, text_lang = _read(text)
            if lang is None or text_lang == lang:
                out.append(self._weight(terms & tokens) / total)
                continue
            if groups is None:
                groups = self.bridge.groups(question, lang)
            held = sum(
                self._weight(set(tokenize(source)))
                for source, translations in groups
                if any((found := tokenize(term)) and set(found) <= tokens for term in translations)
            )
            out.append(min(held / total, 1.0))
        return out


@functools.lru_cache(maxsize=1024)
def _read(text: str) -> tuple[frozenset[str], str]:
    """A sentence's search tokens and language, kept: a passage's sentences are measured twice
    for one question and again for every question that retrieves it (text_coverage). About 12 KB
    a sentence (measured on the bundled passages): 1,024 of them, about 13 MB at most."""
    return frozenset(tokenize(text)), detect_language(text)


def _top(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(chunk row id, score) of the k highest positive scores, best first."""
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    return [(int(i) + 1, float(scores[i])) for i in top if scores[i] > 0]


def _idf(num_docs: int, df: int) -> float:
    return math.log(1 + (num_docs - df + 0.5) / (df + 0.5))
