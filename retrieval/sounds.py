"""Typos that sound like the corpus's own words, mended before search.

People type Chinese by pinyin and pick the wrong character of the same sound:
瘦脸真 for 瘦脸针, 肉毒速 for 肉毒素. To the model and to BM25 the typo is another
word, and the question about 瘦脸针 is refused or quoted from the wrong article.

At index time the corpus's Chinese phrases of MIN_LEN to MAX_LEN characters that occur
at least MIN_COUNT times are kept by their sound (toneless pinyin of each character,
`pypinyin`). A question is mended only where it holds a character pair (bigram) that
no passage holds: a phrase around that pair that sounds exactly like one of the
corpus's phrases is written as the corpus writes it, unless that would lose a word of
CC-CEDICT (我想知道瘦脸针 keeps its 知道 although the corpus writes 到瘦脸). Text the corpus
already uses is never changed, and neither is a question in another language.

Saved with BM25 (`bm25/sounds.json`); an index built before it has no such file and
mends nothing. Without `pypinyin`, nothing is mended either.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from common.text import CJK_RUN_RE
from retrieval.spelling import chinese_words, pinyin_converter

MIN_LEN = 3  # two characters sound like too many other words
MAX_LEN = 4
MIN_COUNT = 3  # a phrase the corpus writes once or twice may be a typo of its own
# a phrase, not a chance sequence: it holds at least this share of the uses of each of its
# two shorter parts (瘦脸针 of 瘦脸 and of 脸针; not 胰岛素麻, a rare continuation of 胰岛素)
COHESION = 0.3
MAX_PHRASES = 200_000  # the most frequent, for a very large corpus
SAMPLE_CHARS = 2_000_000  # counted at most (a few seconds, some hundreds of MB, at index time)


@functools.lru_cache(maxsize=65536)
def sound(char: str) -> str:
    """A character's toneless pinyin in its most common reading (the character itself when it has none)."""
    convert = pinyin_converter()
    return convert(char)[0] if convert else char


def _key(phrase: str) -> str:
    return " ".join(sound(ch) for ch in phrase)


class Sounds:
    """The corpus's frequent Chinese phrases, by sound."""

    def __init__(self, by_sound: dict[str, str] | None = None):
        self.by_sound = by_sound or {}

    @classmethod
    def build(cls, texts: Iterable[str]) -> Sounds:
        if pinyin_converter() is None:
            return cls()
        texts = list(texts)
        # a very large corpus is sampled evenly: its frequent phrases are frequent in any part
        step = max(1, math.ceil(sum(len(t) for t in texts) / SAMPLE_CHARS))
        counts: Counter[str] = Counter()
        for text in texts[::step]:
            for run in CJK_RUN_RE.findall(text):
                for n in range(MIN_LEN - 1, min(MAX_LEN, len(run)) + 1):
                    counts.update(run[i : i + n] for i in range(len(run) - n + 1))
        by_sound: dict[str, str] = {}
        # the most frequent phrase of a sound wins
        for phrase, count in counts.most_common():
            if count < MIN_COUNT or len(by_sound) >= MAX_PHRASES:
                break
            if len(phrase) >= MIN_LEN and count >= COHESION * max(counts[phrase[:-1]], counts[phrase[1:]]):
                by_sound.setdefault(_key(phrase), phrase)
        return cls(by_sound)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.by_sound, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, path: Path) -> Sounds:
        if not path.exists():
            return cls()  # an index built before typos were mended
        return cls(json.loads(path.read_text("utf-8")))

    def mend(self, text: str, known_pair: Callable[[str], bool]) -> str:
        """`text` (simplified) with every phrase around an unknown character pair that sounds
        like a corpus phrase written as the corpus writes it."""
        if not self.by_sound:
            return text
        return CJK_RUN_RE.sub(lambda m: self._mend_run(m.group(0), known_pair), text)

    def _mend_run(self, run: str, known_pair: Callable[[str], bool]) -> str:
        chars = list(run)
        syllables = [sound(ch) for ch in chars]  # a mend keeps them: the phrase sounds the same
        i = 0
        while i < len(chars) - 1:
            if not known_pair(chars[i] + chars[i + 1]):
                mended = self._around(chars, syllables, i)
                if mended is not None:
                    i = mended
                    continue
            i += 1
        return "".join(chars)

    def _around(self, chars: list[str], syllables: list[str], i: int) -> int | None:
        """Mend a phrase holding the pair at i, i + 1 (longest first), unless that would lose a
        word of the text (想知道瘦脸针 keeps its 知道, whatever the corpus writes); the position
        to go on from, or None when nothing was mended."""
        for n in range(MAX_LEN, MIN_LEN - 1, -1):
            for start in range(max(0, i + 2 - n), min(i, len(chars) - n) + 1):
                phrase = self.by_sound.get(" ".join(syllables[start : start + n]))
                window = "".join(chars[start : start + n]) if phrase else ""
                if not phrase or phrase == window:
                    continue
                # the words around it count too: 我想知道瘦脸针 has no 到瘦脸 to mend towards
                left, right = "".join(chars[max(0, start - MAX_LEN) : start]), "".join(chars[start + n : start + n + MAX_LEN])
                if not _words(left + window + right) - _words(left + phrase + right):
                    chars[start : start + n] = list(phrase)
                    return start + n - 1
        return None


def _words(text: str) -> set[str]:
    """The CC-CEDICT words of two characters or more within `text`."""
    words = chinese_words()
    return {text[i:j] for i in range(len(text)) for j in range(i + 2, len(text) + 1) if text[i:j] in words}
