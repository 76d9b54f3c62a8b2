"""What a question asks for that a passage must hold to answer it.

Relevance (stages.relevance) says a passage is about the question's topic; some
questions ask for something that no passage on the topic gives, and quoting one then
answers a question nobody asked:

- **A comparison** ("瘦脸针和热玛吉有什么区别", "水光针比瘦脸针安全吗", "is botox better
  than a thread lift?") is answered only by a passage that names both
  things compared. An article about one of them is close in meaning to the question
  and reaches the threshold; what it says compares nothing. One quoted passage must
  hold both sides: SIDE_HELD of each side's IDF-weighted terms, across languages
  through the bridge, as lexical.text_coverage measures (a term the articles never
  use counts fully against it).
- **A price** ("那做一次要多少钱", "what would masseter botox cost me?") is answered only by
  a passage that states one (a figure with a currency).
- **A provider near the user** ("我家附近哪里能打瘦脸针", "where can I get botox near me?") is
  never answered by an article: it cannot know where the user is (a city named with it,
  "我在杭州 附近有靠谱的医院吗", does not change that). Nearness on the body ("针眼附近有点肿",
  "spread to nearby muscles") seeks no place: only nearness to the user, with a place or
  provider sought, counts.

Either way the message is refused as one the articles do not cover; `articlebot calibrate`
leaves such questions out, as no threshold decides them. Measured with `articlebot
eval-answers FILE [--split tune]`: refusal recall 56 -> 61 of 66 on the tune half
(precision 56/60 -> 61/65), 4 -> 6 of 12 on tests/data/answers_probe_en.jsonl, nothing
else changed (README, "Questions the articles touch but do not answer").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from common.text import CJK_RE, tokenize
from retrieval.lexical import LexicalIndex

SIDE_HELD = 0.5  # the share of a compared thing's terms a passage must hold

COMPARISON = "comparison"
PRICE = "price"
LOCAL = "local"

_ZH_SIDE = r"[^，,。？?！!；;：:\s和与跟同]{2,20}?"
_ZH_COMPARED = re.compile(
    rf"(?P<a>{_ZH_SIDE})(?:和|与|跟|同)(?P<b>{_ZH_SIDE})(?:之间)?(?:比|相比|比起来|比较)?(?:有)?(?:什么|啥|哪些)?"
    r"(?:区别|不同|差别|差异|哪个|哪种|哪一个|哪样|谁)"
    # 溶脂针比瘦脸针好吗, 热玛吉是不是比瘦脸针更持久: asked (a question particle or mark ends it)
    rf"|(?P<c>{_ZH_SIDE})(?:是不是)?比(?P<d>{_ZH_SIDE})(?:更|还)?(?:好|安全|有效|持久|便宜|贵|管用|靠谱|自然|明显)[^，,。！!]*?[吗呢么？?]"
)
_EN_SIDE = r"[a-z0-9][a-z0-9' -]{0,40}?"
_EN_COMPARED = re.compile(
    rf"\bdiffer(?:ence|ences|ent)?\s+(?:between\s+)?(?P<a>{_EN_SIDE})\s+(?:and|vs\.?|versus|from)\s+(?P<b>{_EN_SIDE})\s*(?:[?.!,]|$)"
    rf"|(?P<c>{_EN_SIDE})\s+(?:vs\.?|versus)\s+(?P<d>{_EN_SIDE})\s*(?:[?.!,]|$)"
    rf"|\b(?:better|safer|cheaper|worse)\b[^?.!]*?\b(?P<e>{_EN_SIDE})\s+or\s+(?P<f>{_EN_SIDE})\s*(?:[?.!,]|$)"
    rf"|\b(?:is|are|would|will)\s+(?P<g>{_EN_SIDE})\s+(?:be\s+)?(?:much\s+|really\s+|actually\s+|even\s+|far\s+)?(?:better|safer|cheaper|worse|stronger|longer[- ]lasting|longer|more\s+\w+|less\s+\w+)\s+than\s+(?P<h>{_EN_SIDE})\s*(?:[?.!,]|$)",
    re.IGNORECASE,
)
_EN_LEAD = re.compile(r"^(?:a|an|the|getting|get|doing|having|using)\s+", re.IGNORECASE)

# A question for a price: ways of asking that say so themselves. 便宜 or 费用 alone is often part
# of a story ("当时觉得挺便宜", "花了不少费用打的"); asked ("哪家医院便宜", "价格贵吗", "想了解一下费用")
# it is a price
_PRICE_WORD = r"(?:价格|价钱|价位|费用|收费)"
_ASKS_PRICE = re.compile(
    r"多少钱|多少块|什么价|花多少|贵不贵|贵吗|哪[家里个][^，,。？?！!]{0,10}便宜|便宜[^，,。？?！!]{0,4}[吗呢][？?]?"
    rf"|{_PRICE_WORD}[^，,。！!；;]{{0,8}}(?:多少|贵|高|怎么|如何|吗|呢|[？?])|(?:问|了解|咨询|知道)[^，,。！!；;]{{0,6}}{_PRICE_WORD}"
    r"|\bhow much\b[^?.!]{0,60}\b(?:cost|costs|charge|charges|pay|price)\b|\b(?:price|prices|pricing|cost|costs|fee|fees)\b[^.!]*\?"
    r"|\b(?:cheap|cheaper|cheapest|expensive|affordable)\b[^.!]*\?",
    re.IGNORECASE,
)
_STATES_PRICE = re.compile(
    r"\d[\d,.]*\s*(?:元|块|万元|千元|美元|港币|rmb|yuan|dollars?|usd|hkd)|[¥￥$]\s*\d|(?:人民币|rmb|usd)\s*\d"
    # in Chinese numerals ("一千元到五千元", "几百块钱"; not "一块硬块", a lump)
    r"|[一二两三四五六七八九十几]\s*[十百千万]+\s*(?:多\s*)?(?:元|块钱|美元|港币)|[十百千万]\s*(?:多\s*)?元",
    re.IGNORECASE,
)


# A provider or place near the user, asked for: nearness to the user (附近, 本地, 离我家近; near
# me, in my area) with a place or provider sought ("附近哪里…", "附近有没有靠谱的医院", "离我家近点
# 的医美机构", "a local clinic"). Nearness on the body ("针眼附近有点肿要找医生吗", "nearby
# muscles") seeks nothing.
_G = r"[^，,。！!？?；;\s]"  # within one clause, no white space between
_PROVIDER_ZH = r"(?:医院|诊所|机构|医美|医生|大夫|地方)"
_SEEK_ZH = rf"(?:哪里|哪儿|哪家|哪个地方|什么地方|(?:有没有|有什么|有啥|有好的|有靠谱|推荐){_G}{{0,8}}{_PROVIDER_ZH})"
_PROVIDER_EN = r"(?:clinics?|doctors?|injectors?|providers?|dermatologists?|surgeons?|practitioners?|spas?|salons?|places?)"
_ASKS_LOCAL = re.compile(
    rf"(?:附近|周边|本地|当地|同城){_G}{{0,4}}{_SEEK_ZH}"
    rf"|离我{_G}{{0,4}}近{_G}{{0,4}}{_PROVIDER_ZH}|(?:哪里|哪儿|哪家|哪个){_G}{{0,6}}(?:离我{_G}{{0,3}}近|[我家]附近)"
    r"|\b(?:near|close to)\s+(?:me|where i live|my (?:home|house|place|office|work))\b|\bin my (?:area|city|town|neighbou?rhood)\b"
    rf"|\b(?:nearby|local)\s+(?:\w+\s+)?{_PROVIDER_EN}\b",
    re.IGNORECASE,
)


def compared(question: str) -> tuple[str, str] | None:
    """The two things a comparison question names, or None (also when a side names nothing
    searchable: "than before", 打和不打)."""
    sides = None
    if found := _ZH_COMPARED.search(question):
        sides = (found["a"], found["b"]) if found["a"] else (found["c"], found["d"])
        if sides[1].startswith(("不", "没")):
            return None
    elif found := _EN_COMPARED.search(question):
        a, b = next((found[x], found[y]) for x, y in ("ab", "cd", "ef", "gh") if found[x])
        sides = _EN_LEAD.sub("", a.strip()), _EN_LEAD.sub("", b.strip())
    return sides if sides and all(tokenize(side) for side in sides) else None


def asks_price(question: str) -> bool:
    """Whether a question asks what something costs."""
    return bool(_ASKS_PRICE.search(question))


def asks_local(question: str) -> bool:
    """Whether a question asks for a provider or a place near the user."""
    return bool(_ASKS_LOCAL.search(question))


def states_price(text: str) -> bool:
    """Whether a passage gives a price (a figure with a currency)."""
    return bool(_STATES_PRICE.search(text))


def unmet(question: str, passages: Sequence[str], lexical: LexicalIndex, lang: str) -> str | None:
    """What `question` (in language `lang`) asks for that none of `passages` holds (COMPARISON,
    PRICE or LOCAL, which none can hold), or None."""
    sides = compared(question)
    if sides and not any(all(_held(side, text, lexical, lang, first=n == 0) for n, side in enumerate(sides)) for text in passages):
        return COMPARISON
    if asks_price(question) and not any(states_price(text) for text in passages):
        return PRICE
    if asks_local(question):
        return LOCAL
    return None


def _held(side: str, text: str, lexical: LexicalIndex, lang: str, *, first: bool) -> bool:
    """Whether a passage holds SIDE_HELD of a compared thing's terms (IDF-weighted; a term the
    articles never use counts fully against). A Chinese first side runs on from the message's
    start ("我想知道瘦脸针", "打完瘦脸针"): only its terms the articles use are counted, and one
    with none of them names nothing they know."""
    if first and CJK_RE.search(side):
        known = [t for t in tokenize(side) if t in lexical.idf]
        if not known:
            return False
        side = " ".join(known)
    return lexical.text_coverage(side, [text], lang)[0] >= SIDE_HELD
