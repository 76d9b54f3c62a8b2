"""Text utilities shared by every layer: character ranges, normalising, sentences, shingles, tokens.

Everything here is language-aware in the simplest way that works for this corpus:
Chinese text has no spaces, so similarity is measured on character shingles,
sentences end at 。！？；… as well as at English . ! ? followed by a space, and
the search tokens of Chinese are character bigrams (see `tokenize`).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

from common.packages import package_dir

# CJK ideographs (basic + extension A + compatibility): the one definition of "a Chinese character".
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RE = re.compile(f"[{CJK}]")
CJK_RUN_RE = re.compile(f"[{CJK}]+")  # a run of Chinese characters
LATIN_RE = re.compile(r"[A-Za-z]")
_NOT_ALNUM_RE = re.compile(r"[\W_]+")  # what str.isalnum() rejects

# Control and format characters that must never reach the index or a reply
# (keeps \n and \t, which callers handle themselves).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")

# A sentence ends at Chinese end punctuation (optionally repeated, optionally
# followed by closing quotes/brackets), at ?/! (half- or full-width), or at an
# English full stop that follows a letter and precedes white space.
_SENTENCE_END_RE = re.compile(
    r"(?:[。！？!?；;…]+|(?<=[A-Za-z)\]\"'])\.(?=\s))[”’」』）)\]\"']*"
)


# Lone surrogates: what invalid UTF-8 bytes become on a command line ("surrogateescape")
# or a JSON "\\udXXX" escape; no encoder, database or terminal accepts them.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_input(text: object) -> str:
    """What a user typed, made safe for everything after the entry: a string (None: ""),
    lone surrogates as U+FFFD (the same length in UTF-16, so Telegram's entity offsets
    still hold), NFC, no control or invisible formatting characters except newlines
    and tabs. Meaning is untouched; each channel calls this once, on arrival."""
    if text is None:
        return ""
    return strip_controls(unicodedata.normalize("NFC", replace_surrogates(text if isinstance(text, str) else str(text))))


def replace_surrogates(text: str) -> str:
    """Lone surrogates as U+FFFD, nothing else changed (UTF-16 offsets keep their meaning)."""
    return _SURROGATE_RE.sub(REPLACEMENT, text)


def strip_controls(text: str) -> str:
    """Remove control and invisible formatting characters, keep newlines and tabs."""
    return _CONTROL_RE.sub("", text)


def normalize_space(text: str) -> str:
    """Collapse runs of white space (including ideographic space) into one space."""
    return re.sub(r"[\s\u3000\xa0]+", " ", text).strip()


def fold(text: str) -> str:
    """A comparison key: NFKC, lower case, letters and digits only."""
    return _NOT_ALNUM_RE.sub("", unicodedata.normalize("NFKC", text).lower())


def detect_language(text: str) -> str:
    """Return "zh" when the text has Chinese characters, "en" when it is Latin script only.

    Chinese is the default (the corpus and its readers are mostly Chinese), so text
    with no letters (digits, emoji, punctuation) counts as Chinese. Letters of another
    script and no Chinese (Arabic, Cyrillic, Hangul) count as English: the bot speaks only
    Chinese and English, and such a writer is likelier to read English.
    """
    cjk = len(CJK_RE.findall(text))
    latin = len(LATIN_RE.findall(text))
    if cjk == 0 and (latin > 0 or any(ch.isalpha() for ch in text)):
        return "en"
    # A few Chinese characters inside a long English message do not make it Chinese.
    if latin > 0 and cjk * 4 < latin / 4:
        return "en"
    return "zh"


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping each sentence's end punctuation."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        end = match.end()
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def shingles(text: str, size: int = 3) -> set[str]:
    """Character shingles of the folded text (works for Chinese and English alike)."""
    key = fold(text)
    if len(key) <= size:
        return {key} if key else set()
    return {key[i : i + size] for i in range(len(key) - size + 1)}


def similarity(a: set[str], b: set[str]) -> float:
    """Overlap of two shingle sets: how much of the smaller one the larger contains."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def near_duplicate(a: set[str], b: set[str], threshold: float = 0.8) -> bool:
    """True when two shingle sets are near-identical text.

    Containment of the smaller set is used rather than Jaccard so that a passage
    and a slightly longer copy of it still count as the same text; the size ratio
    guard keeps a short sentence from matching every long passage that quotes it.
    """
    if not a or not b:
        return False
    small, large = sorted((len(a), len(b)))
    if small < 0.5 * large:
        return False
    return similarity(a, b) >= threshold


def sha256(text: str) -> str:
    """Hex SHA-256 of a string (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# English words that carry no topic, dropped from search tokens.
EN_STOP_WORDS = frozenset({
    "the", "and", "for", "are", "but", "not", "you", "all", "can", "her", "was", "one", "our", "out", "has",
    "his", "how", "its", "may", "who", "did", "get", "what", "when", "which", "with", "this", "that", "from",
    "have", "does", "will", "your", "they", "them", "there", "their", "about", "would", "should", "could",
    # function words: in a question they name no topic, and through the dictionary they only add noise
    # (while -> 一边, over -> 咀嚼)
    "while", "over", "under", "again", "once", "here", "where", "why", "both", "each", "few", "because", "until",
    "off", "above", "below", "between", "through", "during", "before", "after", "into", "onto", "also", "just",
    "been", "being", "some", "any", "more", "most", "other", "than", "then", "these", "those", "such", "only",
    "own", "same", "too", "very", "were", "had", "having", "doing", "done", "itself", "him", "himself", "herself",
    "themselves", "yours", "yourself", "myself", "ours", "whom", "whose", "want", "wants", "like", "really",
    "still", "even", "ever", "much", "many", "lot", "lots", "kind", "sort", "thing", "things", "way", "ways",
    "something", "anything", "everything", "nothing", "someone", "anyone", "keep", "keeps", "kept", "getting",
    "got", "gets", "going", "goes", "went", "make", "makes", "made", "take", "takes", "took", "come", "comes",
    "came", "put", "say", "said", "says", "tell", "told", "know", "knew", "think", "thought", "see", "seen",
    "look", "looks", "looked", "use", "used", "using", "help", "need", "needs", "try", "tried", "seem", "seems", "let",
})  # fmt: skip
# Chinese characters that carry no topic in a question: question words, particles, pronouns.
ZH_STOP_CHARS = frozenset("的了吗呢吧啊么怎什如何样是我你他她它们在有和与或及要会能可以该应这那哪个些就都也还很太请问一下多少")

_TOKEN_RE = re.compile(f"[{CJK}]+|[a-z]+|\\d+")


def is_latin(text: str) -> bool:
    """True when the text has no Chinese character."""
    return not CJK_RE.search(text)


def stem(word: str) -> str:
    """A light English stem, so that the forms of a word match each other: cause, causes,
    caused and causing all give "caus"; nerve and nerves "nerv". Short words stay as they are."""
    for suffix, tail in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + tail
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


# Traditional -> simplified, character by character: OpenCC's table (TSCharacters.txt, as shipped
# in opencc-python-reimplemented, Apache-2.0), read as a plain file. See to_simplified.
_OPENCC = "opencc"
_TS_CHARACTERS = "dictionary/TSCharacters.txt"
_ST_CHARACTERS = "dictionary/STCharacters.txt"  # simplified -> traditional: with the other, tells the scripts apart


@functools.lru_cache(maxsize=2)
def _character_table(name: str) -> dict[str, str]:
    """One of OpenCC's character tables as {character: its first counterpart} (a character
    whose first counterpart is itself left out); empty without the package."""
    folder = package_dir(_OPENCC)
    if folder is None:
        return {}
    table: dict[str, str] = {}
    try:
        with (folder / name).open(encoding="utf-8") as lines:
            for line in lines:
                source, _, targets = line.rstrip("\n").partition("\t")
                target = targets.split(" ")[0] if targets else ""
                if len(source) == 1 and len(target) == 1 and source != target:
                    table[source] = target
    except OSError:
        return {}
    return table


@functools.lru_cache(maxsize=2)
def opencc_converter(config: str):
    """OpenCC's phrase-by-phrase converter `config` ("t2s", "s2t") as a function of a text,
    made once; None without the package (opencc-python-reimplemented, Apache-2.0)."""
    try:
        from opencc import OpenCC

        return OpenCC(config).convert
    except Exception:  # noqa: BLE001 - without it, callers leave the text as it is
        return None


@functools.lru_cache(maxsize=1)
def _simplified_table() -> dict[int, str]:
    return {ord(source): target for source, target in _character_table(_TS_CHARACTERS).items()}


@functools.lru_cache(maxsize=1)
def _script_characters() -> tuple[frozenset[str], frozenset[str]]:
    """(characters written only in traditional script, characters written only in simplified
    script): those each table changes and the other does not have (著 and 乾 are in both)."""
    ts, st = _character_table(_TS_CHARACTERS), _character_table(_ST_CHARACTERS)
    return frozenset(ts) - frozenset(st), frozenset(st) - frozenset(ts)


def writes_traditional(text: str) -> bool:
    """Whether `text` is written in traditional characters: more of its characters are
    traditional-only (臉, 後, 針) than simplified-only (脸, 后, 针). Text that has neither
    (English, or characters both scripts share) is not."""
    traditional, simplified = _script_characters()
    return sum(ch in traditional for ch in text) > sum(ch in simplified for ch in text)


def to_simplified(text: str) -> str:
    """The text in simplified characters, as search sees it (臉 -> 脸, 針 -> 针, 後 -> 后).

    The articles are mostly written in simplified characters; people in Taiwan or Hong Kong
    ask in traditional ones. To the models and to BM25 瘦臉針 and 瘦脸针 are different words:
    the tune half's Chinese questions, converted to traditional characters, were answered
    from the right article 39 times of 88 (78 as written). So everything search compares is
    converted on both sides: the question, the chunks and sentences embedded at index time,
    and the tokens of BM25 and term coverage. What is shown (the reply, the log) keeps the
    characters as written.

    Character by character (the first choice of OpenCC's table), not phrase by phrase: this
    runs on every sentence scored for a question, where a table lookup costs microseconds and
    a phrase converter a tenth of a millisecond per message. Simplified text is left as it is.
    Without the table (opencc-python-reimplemented not installed) nothing is converted."""
    table = _simplified_table()
    return text.translate(table) if table else text


def tokenize(text: str) -> list[str]:
    """Search tokens: character bigrams of Chinese runs (a lone character stays itself),
    English words of 2+ letters that are not stop words, lower case and stemmed, numbers.
    Traditional characters count as their simplified forms (to_simplified)."""
    tokens: list[str] = []
    for run in _TOKEN_RE.findall(to_simplified(text.lower())):
        if CJK_RE.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif len(run) >= 2 and run not in EN_STOP_WORDS:
            tokens.append(stem(run) if run.isalpha() else run)
    return tokens
