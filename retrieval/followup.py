"""Follow-ups: when a message does not stand on its own, it is searched together with the
previous question of the same conversation.

"打瘦脸针会导致面瘫吗", then "那要多久能恢复": the second message names no topic. A
message *leans on* the conversation when it says so (it opens with a connective such as
那 / 还有 / what about, asks "…呢", refers back with a pronoun: 它, 这种, it, they, or is
a question word alone: 为什么, "why?", "how come?"), when it is short and names no
subject of its own, only what is asked of one (its cause, a way, the risk, the recovery:
"是啥原因引起的", "any treatment?", `names_no_subject`) or nothing at all (lexical.names_nothing:
"一般要多久" is question words and a lone character; "我是上个月打的" is a time and a lone
character: a remark on when or how often names no topic either), read with the conversation
even when some passage answers its words alone, or when it is short and, on its own, nothing
in the articles answers it although they use at least one of its words (lexical.knows_any_term:
"红烧肉怎么做" shares none, it is a new topic; "具体会有啥症状" does). Such a message
is searched as "previous question + message" (`combine`) and answered as such when
the articles answer that. When nothing answers it either way, it is refused as
searched with the conversation, which the next message then continues ("脸歪了" /
"那我跟我老公商量一下" / "还能恢复吗": the third is read with the first, not with the
remark alone). A message that stands on its own (a new topic) is answered
alone, and so is one that asks the previous question again of a subject the articles never
name, whatever connective opens it ("面瘫要多久恢复" / "那骨折要多久恢复", `other_subject`: it
repeats the question's wording, and what it says instead is unknown to the corpus), and so is
a pleasantry ("谢谢", "ok thanks"), which is not a question about the
previous topic.

Whatever the conversation, a message is searched without its asides (`without_asides`):
clauses that only thank, greet, say "by the way" or address someone ("好的谢谢。对了，…",
"医生你好，…"), and the people addressed at its ends ("…能打吗姐妹们", "医生你知道…"). They carry no
meaning the articles could answer, and spread a message's vector towards nothing.

Red flags are always assessed on the message itself: an emergency is never masked,
and never invented, by the conversation around it.
"""

from __future__ import annotations

import re
from collections.abc import Container
from difflib import SequenceMatcher

from common.text import CJK_RE, CJK_RUN_RE
from retrieval.gate import clauses
from retrieval.lexical import content_terms, names_nothing, without_times

WINDOW_SECONDS = 600  # a message more than this after the previous question starts afresh
MAX_CONTEXT_CHARS = 300  # of earlier questions carried into a search (the latest kept)
SHORT_ZH = 12  # Chinese characters: at most this many and the message may lean on context
SHORT_EN = 6  # English words, likewise
MIN_FRAME_CHARS = 3  # of the previous question's wording that a message re-asking it repeats
MIN_FRAME_SHARE = 0.3  # and the share of the message they make (other_subject)

# Pleasantries: "thanks" after an answer is not a question about the previous topic.
# Greetings likewise: "你好" / "在吗" / "hi there" asks nothing (and is no content gap).
# By kind, which the reply to a message of nothing else answers (social_kind).
_THANKS = frozenset("谢谢 谢谢你 谢谢啦 谢啦 多谢 感谢 辛苦了 thanks thank thx ty".split())
_GREETINGS = frozenset(
    "你好 您好 你好啊 你好呀 哈喽 嗨 在吗 在么 在嘛 在不在 有人吗 早 早安 早上好 上午好 中午好 下午好 晚上好 大家好"
    " hello hi hey hiya morning afternoon evening".split()
)
_SOCIAL = _THANKS | _GREETINGS | frozenset(
    "好的 好 好吧 行 嗯 嗯嗯 哦 噢 知道了 明白了 懂了 了解 收到 再见 拜拜 晚安"
    " ok okay so much very lot a great cool bye goodbye understood see got you it i there good".split()
)
# Asides: said around a question, no part of it: discourse markers ("对了", "btw") and the
# people addressed ("姐妹们", "doctor"). A clause of nothing else is left out of the search.
_ASIDES = frozenset(
    "对了 对啦 顺便问下 顺便问一下 另外问下 另外问一下 请问 问一下 问下 想问一下 想问下 打扰了 打扰一下 麻烦问下 麻烦问一下"
    " 姐妹们 姐妹 宝子们 宝子 亲们 亲 集美们 家人们 各位 大家 医生 大夫 btw doctor doc please".split()
)
# the people addressed, also when no punctuation sets them off ("…能打吗姐妹们")
# and the one asked, at the start before "you" ("医生你知道…", "大夫您看…"; "医生说…" is no address)
_VOCATIVE_ENDS = re.compile(
    r"^(?:姐妹们|宝子们|亲们|集美们|家人们|各位)[，,：:\s]*|^(?:医生|大夫|医师)(?=[你您])"
    r"|[，,\s]*(?:姐妹们|宝子们|亲们|集美们|家人们)[啊呀哈～~!！?？]*$"
)
_ZH_OPENERS = ("那", "那么", "还有", "还能", "还会", "还要", "还是", "另外", "如果", "要是", "万一", "其次", "然后", "而且", "但是", "可是", "所以")
_ZH_OPENERS_LONGEST_FIRST = sorted(_ZH_OPENERS, key=len, reverse=True)  # "那么" before "那" (_bare)
_ZH_REFERENCES = ("它", "这种", "这个", "那个", "这样", "那样", "这些", "那些", "这情况", "这么", "此", "上面", "刚才", "你说的")
_EN_OPENERS = ("and", "but", "so", "then", "also", "what about", "how about", "what if", "and if", "if so")
_EN_REFERENCES = ("it", "its", "it's", "they", "them", "their", "that", "this", "those", "these", "there")
# a question word alone asks about what was just said
_ZH_BARE = ("为什么", "为啥", "为何", "怎么会", "咋会", "怎么回事", "咋回事", "怎么办", "咋办", "多久", "什么时候")
_EN_BARE = ("why", "why not", "how", "how so", "how come", "when", "since when", "how long")  # "and why": an opener already


_AROUND = _SOCIAL | _ASIDES  # what may be said around a question
_LONGEST = max(len(w) for w in _AROUND)


def _words(message: str) -> list[str]:
    return re.findall(r"[a-z']+", message.lower())


def leans_on_context(message: str) -> bool:
    """The message says it continues a conversation: a connective first, "…呢", or a word
    that refers back (see the module docstring)."""
    text = message.strip()
    if CJK_RE.search(text):
        bare = re.sub(r"[\s\W_]+$", "", text)
        return bare.startswith(_ZH_OPENERS) or bare.endswith("呢") or any(ref in bare for ref in _ZH_REFERENCES) or bare in _ZH_BARE
    words = _words(text)
    joined = " ".join(words)
    opens = any(joined == o or joined.startswith(o + " ") for o in _EN_OPENERS)
    return opens or any(w in _EN_REFERENCES for w in words) or joined in _EN_BARE


# Asking for more of the previous answer ("还有呢", "more?", "anything else"): the message is
# this and nothing else but asides or pleasantries ("好的 还有吗", "ok, more please"). "还有什么
# 办法吗" names what it wants (a follow-up, not "more").
_MORE_ZH = re.compile(
    r"还有(?:呢|吗|嘛|么|没有|没|啥|什么|别的|其他的?|其它的?)?(?:吗|呢|嘛|么|没有)?|更多|多点|继续|继续说|接着说|然后呢|再来点|再来一些"
    r"|再多说(?:点|一点|些)?|多说(?:点|一点|些)|(?:再)?详细(?:点|一点|些)|展开说说|下一条|下一个"
)
_MORE_EN = re.compile(
    r"(?:(?:tell|show|give) me |any |some )?more(?: (?:info|information|details|passages|please))?|anything else|what else"
    r"|go on|continue|keep going|next|and"
)


def asks_for_more(message: str) -> bool:
    """The message asks for more of the previous answer and nothing else ("还有呢", "更多",
    "ok more please", "anything else?"); what a "more" button would do."""
    text = message.strip().lower()
    if CJK_RE.search(text):
        if re.search(r"[a-z]", text):
            return False
        rest = "".join(p for p in _zh_pieces("".join(CJK_RUN_RE.findall(text)), _AROUND) if p not in _AROUND)
        return bool(_MORE_ZH.fullmatch(rest))
    words = [w for w in _words(text) if w not in _AROUND]
    return bool(words) and bool(_MORE_EN.fullmatch(" ".join(words)))


# Emoji that say thanks or OK on their own ("🙏", "👍👍"): a pleasantry with no words
_EMOJI_THANKS = frozenset("🙏💐🌹")
_EMOJI_OK = frozenset("👍👌🆗✅❤♥💕💖😊🙂😀😃😄😁🥰😘🤝👏💯")


def emoji_kind(message: str) -> str:
    """THANKS or OTHER for a message of such emoji only (white space, variation selectors and
    skin tones aside), else "" (a message with words, or other symbols: "???", "😱")."""
    marks = [ch for ch in message if not ch.isspace() and not ("\ufe00" <= ch <= "\ufe0f") and not ("\U0001f3fb" <= ch <= "\U0001f3ff")]
    if not marks or not all(ch in _EMOJI_THANKS or ch in _EMOJI_OK for ch in marks):
        return ""
    return THANKS if any(ch in _EMOJI_THANKS for ch in marks) else OTHER


def is_social(message: str) -> bool:
    """Thanks, OK, hello, goodbye: the whole message is made of pleasantries and asides
    ("谢谢", "医生您好", "ok thanks doc", is_aside); it asks nothing."""
    return is_aside(message)


GREETING, THANKS, OTHER = "greeting", "thanks", "other"  # the kinds of pleasantry, answered in kind


def social_kind(message: str) -> str:
    """What a pleasantry (is_social) says: thanks first ("你好，谢谢" thanks), then a greeting, else OTHER (ok, bye)."""
    words = set(_pieces(message, _AROUND))
    if words & _THANKS:
        return THANKS
    if words & _GREETINGS:
        return GREETING
    return OTHER


def is_aside(clause: str) -> bool:
    """Every part of the clause is a pleasantry or an aside ("好的谢谢。", "对了，", "姐妹们", "thanks, doc")."""
    return _made_of(clause, _AROUND)


def _made_of(text: str, known: frozenset[str]) -> bool:
    """Every English word and every run of Chinese of `text` is made of `known` words."""
    pieces = _pieces(text, known)
    return bool(pieces) and all(piece in known for piece in pieces)


def _pieces(text: str, known: frozenset[str]) -> list[str]:
    """The English words of `text`, and its runs of Chinese, each whole when `known` has it and
    otherwise split greedily into the longest `known` words (or single characters)."""
    text = text.lower()
    runs = CJK_RUN_RE.findall(text)
    return re.findall(r"[a-z]+", text) + [piece for run in runs for piece in ([run] if run in known else _zh_pieces(run, known))]


def without_asides(message: str) -> str:
    """The message as it is searched: without the clauses that only thank, greet or address
    someone ("好的谢谢。对了，红烧排骨怎么做" -> "红烧排骨怎么做"), nor the people addressed at
    its ends ("…能打吗姐妹们"). A message of nothing else is kept whole."""
    parts = clauses(message)
    kept = [p for p in parts if not is_aside(p) and any(ch.isalnum() for ch in p)]  # nor a clause of emoji ("🙏 谢谢")
    if not kept:
        return message
    text = message if len(kept) == len(parts) else _join(kept)
    return _VOCATIVE_ENDS.sub("", text).strip() or text


def _join(parts: list[str]) -> str:
    out = parts[0]
    for part in parts[1:]:
        out += part if not out[-1].isalnum() else " " + part  # clauses apart by white space stay apart
    return out


def _zh_pieces(run: str, known: frozenset[str]) -> list[str]:
    """A run of Chinese split greedily into the longest known words (or single characters)."""
    pieces, i = [], 0
    while i < len(run):
        for size in range(min(_LONGEST, len(run) - i), 0, -1):
            if run[i : i + size] in known or size == 1:
                pieces.append(run[i : i + size])
                i += size
                break
    return pieces


# "…应该没事吧", "要紧吗", "is that ok": asking whether it is all right names no subject of its own;
# the "it" is what the conversation was about (Chinese leaves it unsaid)
_ASKS_IF_ALRIGHT = re.compile(
    r"(?:没事|没关系|不要紧|要紧|要不要紧|没问题|没大碍|不碍事)[吧吗嘛么啊呀的哈]*[\s\W_]*$"
    r"|(?:没事|没关系|不要紧|没问题|没大碍|不碍事)了[吧吗嘛么啊呀哈]+[\s\W_]*$"  # 睡一觉就没事了吧 (asked; 现在没事了 says so)
    r"|\b(?:is|are|am|will)\s+(?:it|that|this|i|we)\s+(?:be\s+)?(?:ok|okay|fine|alright|all right|safe)\b",
    re.IGNORECASE,
)


def asks_if_alright(message: str) -> bool:
    """The message asks whether things are all right without saying what ("我在家躺一下应该没事吧",
    "要紧吗", "will I be ok?")."""
    return bool(_ASKS_IF_ALRIGHT.search(message.strip()))


def other_subject(previous: str, message: str, known: Container[str]) -> list[str]:
    """What a message asks about instead, when it asks the previous question again of a subject
    the articles never name ("面瘫要多久恢复" / "那骨折要多久恢复": ["骨折"]); else [].

    It re-asks the question when it repeats at least MIN_FRAME_CHARS characters of its
    wording, in runs of two or more that hold a content term (question words alone, "怎么办",
    are no wording of a question), making at least MIN_FRAME_SHARE of the message, and refers
    back to nothing (这个, 这样: "我同事打完也这样" is about the same thing). The subject is
    the content terms of the rest of the message (times and counts aside) that neither the
    corpus (`known`: its search terms) nor the previous question uses. A question re-asked of
    something the articles do name, or of nothing new ("那长期打会不会有影响"), is still a
    follow-up; so is a message that repeats little ("那敷面膜呢", "我下个月要参加婚礼 来得及
    恢复吗"). Chinese only: an English message's wording is mostly stop words."""
    if not CJK_RE.search(message):
        return []
    before, text = _bare(previous), _bare(message)
    if not before or not text or any(ref in text for ref in _ZH_REFERENCES):
        return []
    blocks = [
        block for block in SequenceMatcher(None, before, text, autojunk=False).get_matching_blocks()
        if block.size >= 2 and any(len(term) >= 2 for term in content_terms(text[block.b : block.b + block.size]))
    ]  # fmt: skip
    repeated = sum(block.size for block in blocks)
    if repeated < MIN_FRAME_CHARS or repeated < MIN_FRAME_SHARE * len(text):
        return []
    rest = list(text)
    for block in blocks:
        rest[block.b : block.b + block.size] = " " * block.size
    terms = content_terms(without_times("".join(rest)))
    return list(dict.fromkeys(t for t in terms if len(t) >= 2 and t not in known and t not in before))


def _bare(text: str) -> str:
    """The text without white space, punctuation or an opening connective ("那骨折要多久恢复?" -> "骨折要多久恢复")."""
    text = re.sub(r"[\s\W_]+", "", text.lower())
    opener = next((o for o in _ZH_OPENERS_LONGEST_FIRST if text.startswith(o)), "")
    return text[len(opener) :]


# Words that frame a question without naming what it is about: what is asked of a subject
# (its cause, a way, the risk, the time it takes, the recovery, whether it is normal), not
# the subject. "是啥原因引起的", "需要注意什么", "any treatment?", "how long does recovery take"
# say nothing of their own; the subject is the conversation's. A closed class of the
# languages, not of the corpus.
_ZH_FRAMES = re.compile("|".join(sorted(
    "原因 引起 导致 造成 办法 方法 作用 效果 影响 后果 风险 危害 好处 坏处 区别 注意 事项 时间 过程 步骤"
    " 情况 问题 表现 症状 治疗 恢复 预防 缓解 避免 解决 处理 需要 应该 可能 容易 正常 严重 时候 一般 通常"
    " 具体 其他 哪些 什么 怎样 如何 为何 为啥 几率 概率 机会 要求 条件"
    # hedges, frequency, negation, "oneself", and the light verbs of doing or getting it (打 a shot,
    # 做 a treatment): the English ones are stop words already
    " 大概 大约 差不多 平时 经常 总是 一直 到底 究竟 真的 自己 不 没 咋 啥 打 做 弄 再 又".split(), key=len, reverse=True)))
_EN_FRAMES = frozenset(
    "cause causes caused causing reason reasons why way ways method methods effect effects risk risks result results"
    " difference time times long process step steps treat treated treatment treatments recover recovery prevent avoid"
    " happen happens happened normal serious usually typically chance chances take takes work works fix fixed"
    " do tho though exactly actually generally normally often soon safe bad worse permanent forever eventually".split()
)


def names_no_subject(message: str) -> bool:
    """The message asks only what is asked of a subject (its cause, a way, the risk, how long,
    whether it recovers: `_ZH_FRAMES`, `_EN_FRAMES`), with times and counts, and names none:
    "是啥原因引起的", "需要注意什么", "any treatment?". Such a message is about the conversation's
    subject even when some passage happens to answer its words alone. What lexical.names_nothing
    reads once the frames are blanked out (a message that names nothing names no subject either)."""
    text = _ZH_FRAMES.sub(" ", message)
    return names_nothing(" ".join(w for w in re.split(r"(\W+)", text) if w.lower() not in _EN_FRAMES))


def is_short(message: str) -> bool:
    """Short enough that it may be a fragment of a conversation rather than a question."""
    cjk = len(CJK_RE.findall(message))
    return cjk <= SHORT_ZH if cjk else len(_words(message)) <= SHORT_EN


def combine(previous: str, message: str) -> str:
    """The question to search for a follow-up: the previous question (its end, if long) and the message."""
    return f"{previous[-MAX_CONTEXT_CHARS:]} {message}"
