"""Mend typos towards a fixed vocabulary: the red-flag rules' own words and their context words (safety.py).

A worried person types fast. Two kinds of slip are mended, each only towards a
word the rules use, so nothing else in a message changes:

- English: a word of five letters or more that is one edit (a letter added,
  dropped, changed, or two swapped) from a rule's word, and is not an English word
  itself ("strok" -> "stroke", "swolen" -> "swollen"; "cooking" stays, although it
  is one letter from "choking"). English words are those of CC-CEDICT's glosses
  (the dictionary bridge.py reads), loaded only when a candidate needs checking.
- Chinese: a run that sounds exactly like a rule's phrase of three characters or
  more (toneless pinyin, `pypinyin`, MIT): 吞烟困难 -> 吞咽困难, 喘不上起 -> 喘不上气.
  Shorter phrases are left alone: too many two-character words sound alike.

Without `pypinyin` or the dictionary, the matching part is skipped; nothing fails.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from common.text import CJK, CJK_RUN_RE

MIN_EN = 5  # shorter English words have too many neighbours one edit away
MIN_ZH = 3  # characters in a Chinese phrase mended by sound
_EN_WORD = re.compile(r"(?<![a-z'])[a-z]{%d,}(?![a-z'])" % MIN_EN)
_ZH_RUN = re.compile(f"[{CJK}]{{{MIN_ZH},}}")


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def one_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by exactly one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Every word of CC-CEDICT's English glosses (empty without the dictionary)."""
    from retrieval import bridge

    path = bridge.dictionary_path()
    if path is None:
        return frozenset()
    words: set[str] = set()
    for _, glosses in bridge.entries(path):
        for gloss in glosses:
            words.update(re.findall(r"[a-z]+", gloss))
    return frozenset(words)


@functools.lru_cache(maxsize=1)
def chinese_words() -> frozenset[str]:
    """Every headword of CC-CEDICT, simplified (empty without the dictionary)."""
    from retrieval import bridge

    path = bridge.dictionary_path()
    return frozenset(word for word, _ in bridge.entries(path)) if path is not None else frozenset()


def is_english_word(word: str) -> bool:
    from retrieval.bridge import lemmas

    known = english_words()
    return any(form in known for form in lemmas(word))


@functools.lru_cache(maxsize=1)
def pinyin_converter():
    try:
        from pypinyin import lazy_pinyin

        return lazy_pinyin
    except ImportError:  # pragma: no cover - a declared dependency; without it, no mending by sound
        return None


class Speller:
    """Mends a normalised text towards `words` (the rules' alternatives)."""

    def __init__(self, words: Iterable[str]):
        words = list(dict.fromkeys(words))
        self.en = {w for phrase in words if phrase.isascii() for w in re.findall(r"[a-z]+", phrase) if len(w) >= MIN_EN}
        self._by_delete: dict[str, set[str]] = {}
        for word in self.en:
            for key in _deletes(word) | {word}:
                self._by_delete.setdefault(key, set()).add(word)
        self.zh: dict[tuple[str, ...], str] = {}
        sound = pinyin_converter()
        if sound is not None:
            for phrase in words:
                if len(phrase) >= MIN_ZH and CJK_RUN_RE.fullmatch(phrase):
                    self.zh.setdefault(tuple(sound(phrase)), phrase)
        self.zh_lengths = sorted({len(k) for k in self.zh}, reverse=True)

    def english(self, word: str) -> str:
        """The rule word `word` is a typo of, or `word` itself."""
        if word in self.en:
            return word
        candidates = {c for key in _deletes(word) | {word} for c in self._by_delete.get(key, ()) if one_edit(word, c)}
        if len(candidates) != 1 or is_english_word(word):
            return word
        return candidates.pop()

    def chinese(self, run: str) -> str:
        """`run` with every stretch that sounds like a rule phrase written as that phrase."""
        if not self.zh:
            return run
        sounds = pinyin_converter()(run)
        if len(sounds) != len(run):  # the converter merged or split characters: leave it
            return run
        out, i = [], 0
        while i < len(run):
            for n in self.zh_lengths:
                phrase = self.zh.get(tuple(sounds[i : i + n])) if i + n <= len(run) else None
                if phrase:
                    out.append(phrase)
                    i += n
                    break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)

    def mend(self, text: str) -> str:
        if self.en:
            text = _EN_WORD.sub(lambda m: self.english(m.group(0)), text)
        if self.zh:
            text = _ZH_RUN.sub(lambda m: self.chinese(m.group(0)), text)
        return text
