"""Red flags: emergencies first, and no personal medical advice.

Two layers decide whether a message describes an emergency; either may raise the
flag. Both are data an operator can edit without code: the rules in
`redflags.toml` beside this module (or a copy ARTICLEBOT_REDFLAGS points at), the
example statements of the meaning layer in `redflags_examples.toml` beside it
(redflag_meaning.py). Emergency numbers and crisis lines live in one place, the
rules file's [numbers].

**Rules.** The message is normalised: traditional characters become simplified
ones, Cantonese written as spoken becomes Mandarin words (唔 不, 冇 没有, 讲嘢 说话), NFKC (full-width letters and digits become plain ones), lower case,
English contractions are written one way ("cant", "can not", "cannot" -> "can't"),
every run of characters that is not a letter or digit becomes one space, and
spaces between single Chinese characters are dropped ("胸 口 痛" reads as "胸口痛");
a space between two runs of two or more keeps them apart as statements.
The message is cut into clauses at punctuation (not at the list comma 、: in
如果皮肤发白、发紫 both stay under 如果, while 头不晕、胸口剧痛 is chest pain) and at the
words that start a new statement ([context] `breaks`: 现在, 但是, now, but, ...). Typos are then mended
towards the rules' own words: an English word of five letters or more that is no
English word and is one edit from a rule's word ("strok", "swolen", "chset"), and
a Chinese run that sounds exactly like a rule's phrase of three characters or
more (吞烟困难 -> 吞咽困难, 喘不上起 -> 喘不上气).

A rule matches when one of its phrases does. A phrase is parts joined by " + ",
all of which must occur somewhere in the message (in any order); a part is
alternatives joined by "|" ("@name": the words of [words] name; a whole part may be
written once in [parts] and used as "$name"); a part "A ~ B" (each side alternatives) is A followed
within a few characters (Chinese) or words (English) by B in the same clause, so
"胸口 ~ 痛" matches 胸口剧痛 and 胸口一阵阵地痛. A Chinese alternative matches as
a substring; an English one at a word start (so "breath" also finds "breathing").

An occurrence does not count when
- a negation stands just before it, or in the gap of an "A ~ B" part: 没有/没/不/
  无/未/否认 within the four characters before (question forms such as 是不是,
  会不会, 有没有 do not negate), or no/not/without/never/n't among the three words
  before; 差点/险些 (it nearly happened) count as negations too;
- in Chinese, the experiential 过 follows it (晕倒过一次: it happened once; not
  过去/过来, 昏迷过去 is now);
- it lies inside a question about what might happen: 会/可能/导致 ... 吗 to the end
  of its statement (打到血管里会失明吗, 打进血管会失明 真的吗; in 鼻子发白了会失明吗 the symptom comes
  before and counts), or in English "what do/does ... mean / look like";
- the gap of an "A ~ B" part softens it ([context] `mild`: 有点, a little, ...);
- its clause speaks of the past or asks about a condition in general ([context]
  `history`: 以前, years ago, ...; `general`: 会不会, can botox cause, ...): "我妈以前
  中过风，她能打瘦脸针吗" is no emergency, "以前中过风，现在突然说话不清楚" is. In
  Chinese written with spaces for punctuation, only the context words up to the end
  of the occurrence's statement count: "我妈三年前 中过风" is the past, "我爸胸口剧痛
  什么原因" is chest pain now.

A statement that it is all over now ([context] `resolved`: 现在没事了, "she's totally
fine now"; not when only said, thought or asked: 诊所说没事了, 现在没事了吗) makes what
the message said before it the past, for a category marked `over_when_resolved` (a
faint); a stroke's signs that went away or blood vomited stay an emergency.

Figures of speech ([context] `figures`; in Chinese an inner "*" stands for up to
three characters: 气*吐血) are removed before any rule reads the message.

A question about a condition in general raises nothing, in either layer: a
question (a Chinese question word or "?"; in English the message opens with a
question word, or is one clause ending in "?") that names no one ([context] `me`,
`others`) and says nothing is happening now or must be done now ([context] `now`:
了, 突然, 怎么办, 是不是, this, help, normal). 女性心梗的症状跟男的不一样吗 is such a
question; 胸口剧痛出冷汗怎么办 and "crushing chest pain, sweating, heart attack?"
are not. A negation does not reach across the space that ends a Chinese statement
(喷了药都不管用 越来越憋), and a wish (要是 … 就好了, [context] `wishes`) is said now,
not asked.

A category's `general_phrases` raise the flag even in a general question (suicide:
asking for the least painful way to die names no one, and is a warning sign).

The notice is the category's; a category may also give `zh_notice_other` and
`en_notice_other` for a message about someone else (it names another person of
[context] `others`, and says he or she, or names the sender only as theirs:
我朋友说她不想活了): the suicide notice then tells the sender how to help.

Emergency categories are checked in file order; the first that matches is the
one reported. Requests for a personal dose, prescription or diagnosis match the
[advice] rule.

**Meaning.** A message that matches no rule may still be flagged by its meaning
(redflag_meaning.py): a classifier over the message's embedding, trained on the
example statements of each category and of messages that are not emergencies. A
message holding a figure of speech reaches it without the figure (`for_meaning`).
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common.text import CJK, opencc_converter

if TYPE_CHECKING:
    from retrieval.redflag_meaning import MeaningLayer

DEFAULT_RULES = Path(__file__).resolve().parent / "redflags.toml"

# 差点 / 险些: it nearly happened, so it did not (差点当场晕过去)
_ZH_NEGATIONS = ("没有", "没", "不", "无", "未", "否认", "并非", "别", "差点", "差一点", "险些")
_EN_NEGATIONS = {"no", "not", "without", "never", "don't", "didn't", "isn't", "haven't", "hasn't", "wasn't", "aren't", "doesn't", "nor"}
# A-not-A questions (是不是, 有没有) and the potential forms (喘不上, 止不住), whose 不 or 没 negates
# nothing after them, blanked before a negation is looked for; so are the words with 不 that
# negate nothing either: 不停地流血, 流了不少血, 不如一了百了, 不仅胸口痛
_ZH_NOT_NEGATING = re.compile(
    r"(.)[不没]\1|有没有|是否|不了|不上|不过|不下|不动|不住|不清|不出|不起|不开|不见|不到|不进"
    r"|不停|不断|不少|不如|不仅|不光|不只|不止|不得不|不禁|不由得"
)
_ZH_STATEMENT_SPACE = re.compile(rf"(?<=[{CJK}]{{2}}) (?=[{CJK}]{{2}})")
# the experiential 过 after a symptom: it happened once, it is not happening now (晕倒过一次, 抽搐过);
# not the directional 过去 / 过来 (昏迷过去)
_ZH_EXPERIENCED = re.compile(r"过(?![去来])")
# a question about what might happen: 会 / 可能 / 导致 ... 吗 around the symptom (打到血管里会失明吗, a laugh
# after it: 会疼死吗哈哈), or such a statement followed by asking whether it is true (打进血管会失明 真的吗);
# the symptom must lie inside it, so 我看不清了会失明吗 still reports 看不清
_ZH_HYPOTHETICAL = re.compile(
    r"(?:(?<![不没])会|可能|导致|引起)[^\n ]{0,10}?(?:[吗么嘛](?=[哈呵嘿啊呀]*(?: |\n|$))|(?= [这那]?是?真的(?:吗|么|嘛|假)))"
)
# the English counterpart: "what do red streaks near the injection mean", "what does anaphylaxis look like"
_EN_QUESTION_SPAN = re.compile(r"(?<![a-z'])(?:what|how) (?:do|does|would|could|can|did) [^\n]{0,60}? (?:mean|look like|feel like)(?![a-z])")
# 之前 after a time to come (明天早上之前 我就不在了): before then, not the past
_ZH_BEFORE_A_FUTURE = re.compile(r"(?<=明天|明早|今晚|今天|下周|周末|月底|年底|后天)([^\n ]{0,3}?)之前")
# 了 that is not the aspect particle (了解, 为了), left out before the words of [context] `now` are read
_ZH_NOT_ASPECT = re.compile(r"了解|为了|除了|了不起")
ZH_GAP = 6  # characters between the two sides of "A ~ B" (Chinese)
MEANINGFUL_REST = 4  # letters or characters a message must keep, once its figures of speech are gone, to be read for meaning
ZH_WILDCARD = 3  # characters an inner "*" of a Chinese context word or figure stands for (气*吐血)
EN_GAP = 3  # words between them (English)

# one spelling for each English contraction (so rules list one form)
_CONTRACTIONS = {
    "cant": "can't", "cannot": "can't", "can not": "can't", "dont": "don't", "do not": "don't", "wont": "won't",
    "will not": "won't", "didnt": "didn't", "did not": "didn't", "doesnt": "doesn't", "does not": "doesn't",
    "isnt": "isn't", "is not": "isn't", "wasnt": "wasn't", "arent": "aren't", "couldnt": "couldn't",
    "could not": "couldn't", "havent": "haven't", "hasnt": "hasn't", "im": "i'm", "ive": "i've", "hes": "he's",
    "shes": "she's", "its": "it's", "theyre": "they're", "youre": "you're", "wouldnt": "wouldn't", "shouldnt": "shouldn't",
}  # fmt: skip
_CONTRACTION_RE = re.compile(r"(?<![a-z'])(" + "|".join(sorted(map(re.escape, _CONTRACTIONS), key=len, reverse=True)) + r")(?![a-z'])")


# Cantonese written as spoken, in Mandarin words, so the rules read it (the longer forms first:
# 郁唔到 is 动不了 before 唔 is 不). A character that also starts Mandarin words is mapped only
# where that cannot matter: 郁 (抑郁) only in 郁唔到; 饮 and 仲 everywhere, so 饮料 reads 喝料,
# which no rule word contains. Rule words are written in simplified Mandarin (the file says so).
_CANTONESE = (
    ("唔该", "谢谢"), ("郁唔到", "动不了"), ("郁不到", "动不了"), ("唔郁得", "动不了"), ("系唔系", "是不是"),
    ("透唔到气", "透不过气"), ("讲嘢", "说话"), ("讲野", "说话"), ("成边身", "半边身"), ("晕低", "晕倒"), ("跌亲", "摔倒"),
    ("点算", "怎么办"), ("点解", "为什么"), ("而家", "现在"), ("啱啱", "刚刚"), ("佢哋", "他们"),
    ("冇", "没有"), ("唔", "不"), ("咗", "了"), ("嘅", "的"), ("喺", "在"), ("佢", "他"), ("嘢", "东西"), ("睇", "看"),
    ("饮", "喝"), ("瞓", "睡"), ("把声", "声音"), ("仲", "还"), ("揸住", "攥住"), ("揸紧", "攥紧"), ("俾人", "被人"),
    ("好似", "好像"), ("翳", "闷"),
)  # fmt: skip
# Southwestern Mandarin words for the body the rules name (脑壳痛得遭不住: a headache)
_DIALECT = (("脑壳", "头"), ("脑阔", "头"))
_SPOKEN = _CANTONESE + _DIALECT


class RulesError(Exception):
    """The red-flag file cannot be read or is malformed."""


def _to_simplified():
    """OpenCC's traditional -> simplified phrase converter (the identity without the package)."""
    return opencc_converter("t2s") or (lambda text: text)


def _clean(text: str) -> str:
    """One clause, already simplified and lower case: punctuation to spaces, one spelling per contraction."""
    text = re.sub(r"[^\w']+", " ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, not apostrophes
    text = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(1)], re.sub(r" +", " ", text))
    # spaced-out characters are one word (胸 口 痛), a space between longer runs separates
    # statements, the way people write Chinese without punctuation (我爸胸口剧痛 这是什么症状)
    text = _ZH_STATEMENT_SPACE.sub("\0", text)
    return re.sub(rf"(?<=[{CJK}]) (?=[{CJK}])", "", text).replace("\0", " ").strip()


def normalise(text: str, breaks: Iterable[str] = ()) -> str:
    """Simplified, lower case, NFKC, one spelling per contraction, punctuation to single
    spaces, no spaces between Chinese characters; clauses one per line, each padded
    with a space (" 胸口痛 \\n 现在喘不上气 ")."""
    text = unicodedata.normalize("NFKC", _to_simplified()(text or "")).lower().replace("\u2019", "'").replace("\u2018", "'")
    # a list (发白、发紫或者剧痛) stays one clause, under the same 如果; its items are statements
    # of their own, so a negation does not reach from one to the next (头不晕、胸口剧痛)
    text = text.replace("、", " ")
    for spoken, mandarin in _SPOKEN:  # written as spoken: 一点反应都冇, 讲嘢唔清楚, 成边身郁唔到
        text = text.replace(spoken, mandarin)
    text = re.sub(r"[，,。.！!？?；;：:\n\r…~～]+", "\n", text)
    for word in breaks:  # a new statement starts: 以前中过风 / 现在说话不清楚
        text = text.replace(word, "\n" + word) if _chinese(word) else re.sub(rf"(?<![a-z']){re.escape(word)}(?![a-z'])", "\n" + word, text)
    clauses = [_clean(c) for c in text.split("\n")]
    return "\n".join(f" {c} " for c in clauses if c) or "  "


def _clean_figure(word: str) -> str:
    """A figure of speech as the rules read text; an inner "*" is kept (a wildcard, see _word_pattern)."""
    return "*".join(_clean(_to_simplified()(part).lower()) for part in word.split("*"))


def _chinese(needle: str) -> bool:
    return bool(re.search(f"[{CJK}]", needle))


def _negated_before(before: str, chinese: bool) -> bool:
    if chinese:
        # a space left between Chinese runs ends a statement, and a negation does not reach across
        # it (喷了药都不管用 越来越憋: the 不 is the medicine's); a negation standing alone before
        # the space still negates (没有 胸痛, 也没有 胸闷), but not one that ends a statement of its
        # own (一点知觉都没有 嘴也歪了: the 没有 is the feeling's)
        statement = before.rstrip()
        statement = statement[statement.rfind(" ") + 1 :]
        if before.endswith(" ") and any(statement.endswith(neg) and len(statement) <= len(neg) + 1 for neg in _ZH_NEGATIONS):
            return True
        before = before[before.rfind(" ") + 1 :]
        # question forms are blanked, not cut out: cutting would pull a negation from further
        # back into the four characters (不知道是不是中风 would read as 不知道中风)
        window = _ZH_NOT_NEGATING.sub(lambda m: " " * len(m.group()), before[-8:])[-4:]
        return any(neg in window for neg in _ZH_NEGATIONS)
    return bool(_EN_NEGATIONS & set(before.split()[-3:]))


def _negated_gap(gap: str, chinese: bool, mild: tuple[str, ...]) -> bool:
    if chinese:
        if any(neg in _ZH_NOT_NEGATING.sub("", gap) for neg in _ZH_NEGATIONS):
            return True
    elif _EN_NEGATIONS & set(gap.split()):
        return True
    return any(word in gap for word in mild)


@dataclass
class Context:
    """Words that change what a clause means: it is about the past, or a general question."""

    history: tuple[str, ...] = ()
    general: tuple[str, ...] = ()
    mild: tuple[str, ...] = ()
    breaks: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()  # figures of speech, read as nothing: 笑死我了, dying to try
    # a question that names no one and says nothing is happening now asks about a condition in
    # general (心梗的症状男女一样吗, "do heart attack symptoms always include chest pain?")
    me: tuple[str, ...] = ()  # 我, my: the sender
    others: tuple[str, ...] = ()  # 妈, 朋友, she, friend: someone else
    third: tuple[str, ...] = ()  # 他, 她, he, she: the message speaks of someone else
    now: tuple[str, ...] = ()  # 了, 突然, 怎么办, now, this: it is happening, or something must be done
    questions: tuple[str, ...] = ()  # 吗, 怎么, what, how (English: the message opens with one)
    wishes: tuple[str, ...] = ()  # 就好了: 要是 … 就好了 is a wish, not a hypothetical question
    conditionals: tuple[str, ...] = ()  # the `general` words a wish overrides: 如果, 要是
    # it is over now (现在没事了, she's totally fine now): for a category whose emergency ends when it
    # is over (`over_when_resolved`: a faint), what the message said before is a past event
    resolved: tuple[str, ...] = ()

    def resolved_until(self, text: str) -> int:
        """Where the last statement that it is all over now ends in `text` (as the rules read
        it), or -1: what comes before it has passed (我爸昨天晕倒了 现在没事了 他能打瘦脸针吗), what
        comes after it has not (她晕倒过 现在没事了 但是胸口一直剧痛). It does not count when
        someone else only says so or it was only thought (诊所说没事了, i thought she was
        totally fine), when it is negated, or when it is asked (现在没事了吗)."""
        return _resolved_until(text, self.resolved)

    def discounts(self, clause: str) -> bool:
        clause = _ZH_BEFORE_A_FUTURE.sub(" ", clause)  # 明天早上之前: a time to come, not the past
        general = self.general
        if any(w in clause for w in self.wishes):  # 要是我明天死掉就好了: a wish, said now
            general = tuple(w for w in general if w not in self.conditionals)
        return any(_has_word(clause, w) for w in self.history + general)

    def names_another(self, text: str) -> bool:
        """Whether the message (as the rules read it) is about someone other than the sender: it
        names another, and either says he or she, or names the sender only as theirs (我朋友, my son)."""
        if not any(_has_word(text, w) for w in self.others):
            return False
        if any(_has_word(text, w) for w in self.third):
            return True
        for me in self.me:
            for other in self.others:
                text = _word_pattern(f"{me}{'' if _chinese(me) else ' '}{other}").sub(" ", text)
        return not any(_has_word(text, w) for w in self.me)

    def asks_in_general(self, message: str, text: str) -> bool:
        """Whether the message (`text`: as the rules read it) is a question about a condition
        in general: a question, naming no one, with nothing happening now."""
        if not self.questions:
            return False
        aspect = _ZH_NOT_ASPECT.sub(" ", text)  # 了解 and 为了 say nothing of time
        if any(_has_word(aspect, w) for w in self.me + self.others + self.now):
            return False
        if _chinese(text):
            return bool(re.search(r"[?？]", message)) or any(w in text for w in self.questions if _chinese(w))
        # English: the message opens with the question ("do heart attack symptoms always include
        # chest pain?"), or is one clause asking ("heart attack signs in women?"); symptoms listed
        # before a short question are someone's ("crushing chest pain, sweating, heart attack?")
        clauses = [c.strip() for c in text.split("\n") if c.strip()]
        if not clauses:
            return False
        opens = any(clauses[0] == w or clauses[0].startswith(w + " ") for w in self.questions if not _chinese(w))
        return opens or (len(clauses) == 1 and bool(re.search(r"[?？]\s*$", message)))


# before a statement that it is over: it is only said, thought or asked, not so (诊所说没事了, 以为没事了,
# 是不是现在没事了); after it, asked (现在没事了吗)
_ZH_HEARSAY = ("说", "以为", "觉得", "认为", "告诉", "保证", "希望", "应该", "知道", "是不是", "会不会")
# (and "was": "she was totally fine at dinner" is how things were before, not that they are over)
_EN_HEARSAY = {"said", "says", "say", "told", "tells", "thought", "think", "thinks", "hope", "hoping", "supposed", "should", "if",
               "whether", "was", "were", "been"}  # fmt: skip
_EN_ASKS = {"is", "are", "will", "would", "can", "could", "was"}  # two words before: "is she fine now"
_ZH_ASKED = re.compile(r"[了啦]?[吗吧么嘛呢]")


@functools.lru_cache(maxsize=4)
def _resolved_patterns(words: tuple[str, ...]) -> list[tuple[re.Pattern, bool]]:
    """(pattern, Chinese) for each word of [context] `resolved`: a Chinese one may end in 了 or 啦,
    an English one may span the break the rules put before "now" (she's fine / now)."""
    return [
        (re.compile(re.escape(w) + "[了啦]?"), True) if _chinese(w)
        else (re.compile(r"(?<![a-z0-9'])" + r"[ \n]+".join(map(re.escape, w.split())) + r"(?![a-z0-9'])"), False)
        for w in words
    ]  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _resolved_until(text: str, words: tuple[str, ...]) -> int:
    end = -1
    for pattern, chinese in _resolved_patterns(words):
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 12) : match.start()]
            if chinese:
                if any(h in before[-6:] for h in _ZH_HEARSAY) or _ZH_ASKED.match(text, match.end()) or _negated_before(before, True):
                    continue
            elif _EN_HEARSAY & set(before.split()[-3:]) or _EN_ASKS & set(before.split()[-2:-1]) or _negated_before(before, False):
                continue  # "the clinic says it's fine now", "is she ok now", "she's not fine now"
            end = max(end, match.end())
    return end


@functools.lru_cache(maxsize=4096)
def _word_pattern(word: str) -> re.Pattern:
    """A context word as a pattern: "#" stands for a digit, a final "*" lets the word go on,
    a " * " inside stands for one to three words ("what do * mean", "tell * apart"), and in Chinese an inner "*"
    for up to ZH_WILDCARD characters (气*吐血: 气得吐血, 气得我吐血)."""
    body = re.escape(word.rstrip("*")).replace(r"\#", "[0-9]").replace("#", "[0-9]").replace(r"\ \*\ ", r" [^ \n]+(?: [^ \n]+){0,2} ")
    if _chinese(word):
        return re.compile(body.replace(r"\*", f"[^\\n]{{0,{ZH_WILDCARD}}}"))
    return re.compile(rf"(?<![a-z0-9']){body}" + ("" if word.endswith("*") else r"(?![a-z0-9])"))


def _has_word(text: str, word: str) -> bool:
    return _anchor(word) in text and bool(_word_pattern(word).search(text))


@functools.lru_cache(maxsize=4096)
def _anchor(word: str) -> str:
    """The longest part of a context word that `_word_pattern` matches literally: where it is
    not in a text, the word is not either, and the far slower pattern need not run."""
    return max(re.split(r" \* |\*|#", word), key=len)


def _counts(text: str, match: re.Match, chinese: bool, context: Context) -> bool:
    """Whether an occurrence counts: no negation just before it in its clause, no experiential 过
    after it, not inside a question about what might happen, and its clause is not about the past
    or a general question. In Chinese written with spaces for punctuation, a
    context word reaches forward, up to the end of the statement the occurrence is in: 以前 中过风
    is history, but in 我爸胸口剧痛 什么原因 or 胸口剧痛 和以前不一样 the pain is now."""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    end = len(text) if end < 0 else end
    span = _ZH_HYPOTHETICAL if chinese else _EN_QUESTION_SPAN
    if any(h.start() < match.start() and match.end() <= h.end() for h in span.finditer(text, start, end)):
        return False
    if chinese:
        if _ZH_EXPERIENCED.match(text, match.end()):
            return False
        space = _ZH_STATEMENT_SPACE.search(text, match.end(), end)
        end = space.start() if space else end
    return not _negated_before(text[start : match.start()], chinese) and not context.discounts(text[start:end])


@functools.lru_cache(maxsize=4096)
def _pattern(needle: str) -> re.Pattern:
    return re.compile(re.escape(needle) if _chinese(needle) else r"(?<![a-z0-9'])" + re.escape(needle))


@dataclass
class Words:
    """Alternatives, one of which must occur (not negated, not in a past or general clause)."""

    alternatives: list[str]

    def found(self, text: str, context: Context) -> bool:
        return any(self._occurs(alt, text, context) for alt in self.alternatives)

    @staticmethod
    def _occurs(needle: str, text: str, context: Context) -> bool:
        if needle not in text:  # the common case, and much cheaper than the regex
            return False
        chinese = _chinese(needle)
        return any(_counts(text, match, chinese, context) for match in _pattern(needle).finditer(text))

    def words(self) -> Iterable[str]:
        return self.alternatives


@dataclass
class Window:
    """"A ~ B": one of `first`, then within a few characters or words one of `second`."""

    first: list[str]
    second: list[str]
    regex: re.Pattern = field(init=False, repr=False)
    chinese: bool = field(init=False)

    def __post_init__(self):
        self.chinese = _chinese(self.first[0])
        # the longest of `first` is tried first, so the rest of a longer phrase is never read as
        # the gap (走路 | 走路不稳 ~ 摔倒: the 不 of 走路不稳摔倒 is no negation); the order of `second`
        # does not matter, the gap before it is the same whichever is found
        one = "|".join(map(re.escape, sorted(self.first, key=len, reverse=True)))
        two = "|".join(map(re.escape, self.second))
        if self.chinese:
            self.regex = re.compile(f"(?:{one})([^\\n]{{0,{ZH_GAP}}}?)(?:{two})")
        else:
            self.regex = re.compile(rf"(?<![a-z0-9'])(?:{one})[a-z']*((?: [^ \n]+){{0,{EN_GAP}}}) (?:{two})")

    def found(self, text: str, context: Context) -> bool:
        return any(
            not _negated_gap(match.group(1), self.chinese, context.mild) and _counts(text, match, self.chinese, context)
            for match in self.regex.finditer(text)
        )

    def words(self) -> Iterable[str]:
        return self.first + self.second


@dataclass
class Rule:
    """One category: phrases, and the notice shown when it matches."""

    name: str
    phrases: list[list[Part]]
    notice: dict[str, str]
    notice_other: dict[str, str] | None = None  # when the message names someone else (zh/en_notice_other)
    # phrases that raise the flag even in a question about a condition in general ("what's the
    # least painful way to die"); they count as ordinary phrases too
    general_phrases: list[list[Part]] = field(default_factory=list)
    # whether the emergency is over once the message says it is ([context] `resolved`): a faint
    # (晕倒了 现在没事了) yes; a stroke's signs that went away, blood vomited, pills taken, no
    over_when_resolved: bool = False

    def matches(self, text: str, context: Context) -> bool:
        return _any_phrase(self.phrases + self.general_phrases, text, context)

    def matches_in_general(self, text: str, context: Context) -> bool:
        return _any_phrase(self.general_phrases, text, context)


def _any_phrase(phrases: list[list[Part]], text: str, context: Context) -> bool:
    """Whether one of the phrases matches: all its parts found."""
    return any(all(part.found(text, context) for part in phrase) for phrase in phrases)


@dataclass
class Assessment:
    """What the safety rules say about a message."""

    emergency: str | None = None  # the category, e.g. "stroke"
    advice: bool = False  # asks for a personal dose, prescription or diagnosis
    notices: dict[str, str] | None = None  # emergency notice per language, from the rules file
    advice_notices: dict[str, str] | None = None  # the "no personal advice" caveat per language, when `advice`
    by: str | None = None  # which layer raised the flag: "rules" or "meaning"


@dataclass
class Part:
    """Options, one of which must be found: alternatives, or a window "A ~ B"."""

    options: list[Words | Window]

    def found(self, text: str, context: Context) -> bool:
        return any(option.found(text, context) for option in self.options)

    def words(self) -> Iterable[str]:
        return [w for option in self.options for w in option.words()]


def _named_parts(phrase: str, parts: dict[str, str], path: Path, name: str) -> str:
    """A phrase with each "$name" replaced by the options of [parts] name (one part written once,
    used by many phrases: where filler went, "@filler / 打|填 ~ @filler_site / ...")."""

    def named(match: re.Match) -> str:
        if match.group(1) not in parts:
            raise RulesError(f"The red-flag rule {name!r} in {path} uses ${match.group(1)}, which [parts] does not define.")
        return parts[match.group(1)]

    return re.sub(r"\$(\w+)", named, phrase)


def _parse_part(text: str, path: Path, name: str, lists: dict[str, str]) -> Part:
    """"a|b / c|d ~ e|f": options split at " / ", each alternatives or a window;
    "@name" stands for the alternatives of [words] name."""

    def alternatives(s: str) -> list[str]:
        found = []
        for alt in s.split("|"):
            alt = alt.strip()
            if alt.startswith("@"):
                if alt[1:] not in lists:
                    raise RulesError(f"The red-flag rule {name!r} in {path} uses {alt}, which [words] does not define.")
                found.extend(_clean(a) for a in lists[alt[1:]].split("|") if a.strip())
            elif alt:
                found.append(_clean(alt))
        if not found:
            raise RulesError(f"The red-flag rule {name!r} in {path} has an empty part in {text!r}.")
        return found

    options: list[Words | Window] = []
    for option in text.split(" / "):
        if option.count(" ~ ") > 1:
            raise RulesError(f"The red-flag rule {name!r} in {path} has an option with two \" ~ \": {option!r}.")
        if " ~ " in option:
            first, _, second = option.partition(" ~ ")
            options.append(Window(alternatives(first), alternatives(second)))
        else:
            options.append(Words(alternatives(option)))
    return Part(options)


class RedFlags:
    """The loaded rules (and, when given, the meaning layer)."""

    def __init__(self, emergencies: list[Rule], advice: Rule | None, context: Context | None = None,
                 meaning: MeaningLayer | None = None):  # fmt: skip
        self.emergencies = emergencies
        self.advice = advice
        self.context = context or Context()
        self.meaning = meaning
        self.by_name = {rule.name: rule for rule in emergencies}
        from retrieval.spelling import Speller

        words = [w for rule in emergencies + ([advice] if advice else []) for phrase in rule.phrases for part in phrase for w in part.words()]
        # the context words too, so a typo of a question word (啥症壮) still reads as a question
        words += [w for w in self.context.history + self.context.general if not re.search(r"[#*]", w)]
        self.speller = Speller(words)

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES, meaning: MeaningLayer | None = None) -> RedFlags:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RulesError(f"Cannot read the red-flag rules in {path}: {exc}") from None
        numbers = {k: str(v) for k, v in data.get("numbers", {}).items()}
        lists = {k: str(v) for k, v in data.get("words", {}).items()}
        parts = {k: str(v) for k, v in data.get("parts", {}).items()}
        if bad := [k for k, v in parts.items() if " + " in v]:
            raise RulesError(f"The [parts] {', '.join(bad)} in {path} hold \" + \"; a named part is one part.")

        def rule(name: str, body: dict) -> Rule:
            try:
                notice = {lang: body[f"{lang}_notice"].format(**numbers) for lang in ("zh", "en")}
                other = {lang: body[f"{lang}_notice_other"].format(**numbers) for lang in ("zh", "en") if f"{lang}_notice_other" in body}
                if other and len(other) != 2:
                    raise KeyError("zh_notice_other and en_notice_other go together")
                phrases, general = ([[_parse_part(part, path, name, lists) for part in _named_parts(phrase, parts, path, name).split(" + ")]
                                      for phrase in body.get(key, [])] for key in ("phrases", "general_phrases"))  # fmt: skip
                if "phrases" not in body:
                    raise KeyError("phrases")
            except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
                raise RulesError(f"The red-flag rule {name!r} in {path} is incomplete: {exc}") from None
            over = body.get("over_when_resolved", False)
            if not isinstance(over, bool):
                raise RulesError(f"The red-flag rule {name!r} in {path}: over_when_resolved must be true or false, not {over!r}.")
            return Rule(name, phrases, notice, other or None, general, over)

        words = data.get("context", {})
        try:
            keys = ("history", "general", "mild", "breaks", "me", "others", "third", "now", "questions", "wishes", "conditionals",
                    "resolved")  # fmt: skip
            context = Context(**{key: tuple(str(w).lower() for w in words.get(key, ())) for key in keys},
                              figures=tuple(_clean_figure(str(w)) for w in words.get("figures", ())))  # fmt: skip
        except TypeError as exc:
            raise RulesError(f"The [context] of {path} is malformed: {exc}") from None
        emergencies = [rule(name, body) for name, body in data.get("emergency", {}).items()]
        advice = rule("advice", data["advice"]) if "advice" in data else None
        return cls(emergencies, advice, context, meaning)

    def text(self, message: str) -> str:
        """The message as the rules read it: normalised, in clauses, typos mended, figures of speech gone."""
        return self._read(normalise(message, self.context.breaks))

    def _read(self, normal: str) -> str:
        """`text`, from the message already normalised: typos mended, figures of speech gone."""
        return self._without_figures(self.speller.mend(normal))

    def _without_figures(self, text: str) -> str:
        for figure in self.context.figures:
            text = _word_pattern(figure).sub(" ", text)
        return text

    def for_meaning(self, message: str) -> str:
        """The message as the meaning layer reads it: the message itself (its vector is then the
        search's), or, when it holds a figure of speech, its normalised text without the figure,
        so 笑到窒息 or 要被美晕了 weighs nothing there either; when it says that it is all over now
        ([context] `resolved`), only what follows that, unless the rules read an emergency that
        stays one (a stroke's signs that went away) before it."""
        normal = normalise(message, self.context.breaks)
        return self._for_meaning(message, normal, self._in_general(message, self._read(normal)))

    def _for_meaning(self, message: str, normal: str, in_general: bool) -> str:
        """`for_meaning`, given the message normalised and whether it asks in general."""
        if in_general:
            return ""  # nobody has it now: not read for meaning either
        over = self._resolved_prefix(normal)
        normal = normal[over:]  # what is over (晕倒了 现在没事了) is not read for meaning either
        stripped = self._without_figures(normal)
        if stripped == normal and not over:
            return message
        rest = " ".join(stripped.split())
        # what a figure leaves of a short message (笑死我了 -> 我了) says nothing, and the
        # classifier must not guess at it
        return rest if len(re.findall(r"\w", rest)) >= MEANINGFUL_REST else ""

    def by_rules(self, message: str) -> str | None:
        """The first emergency category whose rules match, or None."""
        text = self.text(message)
        return None if self._in_general(message, text) else self._first_match(text)

    def _in_general(self, message: str, text: str) -> bool:
        """A question about a condition in general that no rule's `general_phrases` match."""
        if not self.context.asks_in_general(message, text):
            return False
        return not any(rule.matches_in_general(text, self.context) for rule in self.emergencies)

    def _first_match(self, text: str) -> str | None:
        after = self._after_resolution(text)
        return next((rule.name for rule in self.emergencies if rule.matches(after if rule.over_when_resolved else text, self.context)), None)

    def _after_resolution(self, text: str) -> str:
        """`text` with what comes before its last statement that it is all over now blanked
        (line breaks kept), for the categories that end when they are over; `text` without one."""
        over = self.context.resolved_until(text)
        return text if over < 0 else re.sub(r"[^\n]", " ", text[:over]) + text[over:]

    def _resolved_prefix(self, normal: str) -> int:
        """Where the meaning layer starts reading a message (normalised) that says it is all over
        now: after that statement, unless the rules read in what came before it an emergency that
        stays one when it is over (a stroke's signs that went away); else 0, the whole message."""
        over = self.context.resolved_until(normal)
        if over < 0:
            return 0
        before = self._read(normal[:over])
        lasting = any(rule.matches(before, self.context) for rule in self.emergencies if not rule.over_when_resolved)
        return 0 if lasting else over

    def assess(self, message: str) -> Assessment:
        """Check a message against every rule, then (if no rule matched) its meaning."""
        normal = normalise(message, self.context.breaks)
        text = self._read(normal)  # self.text, keeping `normal` for the meaning layer
        in_general = self._in_general(message, text)
        result = Assessment(emergency=None if in_general else self._first_match(text))
        if result.emergency is not None:
            result.by = "rules"
        elif self.meaning is not None:
            category = self.meaning.category(self._for_meaning(message, normal, in_general))
            if category in self.by_name:
                result.emergency, result.by = category, "meaning"
        if result.emergency:
            rule = self.by_name[result.emergency]
            # the category's words for someone else's emergency, when it has them: 我朋友说她不想活了
            result.notices = rule.notice_other if rule.notice_other and self.context.names_another(text) else rule.notice
        if self.advice and self.advice.matches(text, self.context):
            result.advice = True
            result.advice_notices = self.advice.notice
        return result
