"""Keep the article, drop what is not the article.

Scraped health pages carry a lot around the text itself. The cleaner works on the
lines of a document and removes them by *kind*, with rules that describe the shape
of page furniture rather than the wording of particular pages:

1. **Trailing sections.** Related-article lists, "also read" teasers, reader
   comments and previous/next links follow the article. A short line that names
   such a section (相关推荐, 大家都在搜, …还看了, 患者热议, 上一篇, "Related
   articles", "Comments", …) ends the article once some body text has been seen:
   it and everything after it goes. The guard on body text keeps a sidebar marker
   at the top of a page from swallowing the article.
2. **Dated blocks.** Comments (name, comment, timestamp) and listing teasers
   (title, summary, "category 2025-03-12") are runs of short blocks each closed by
   a line that is only a date or time. Two or more such blocks in a row are removed
   whole, wherever they are.
3. **Lines repeated across the site.** A line that occurs in two or more
   documents of the corpus (a site's notice, a doctor's byline, a slogan) is
   boilerplate, not content. Only documents of a few lines or more are compared,
   so that short one-paragraph corpora (question-answer sets) do not lose answers.
   The index remembers these lines, so removing a page later does not turn its
   siblings' boilerplate back into content.
4. **Line kinds** (`corpus/linekinds.py`), each a pattern of shape:
   navigation (breadcrumbs with `>` separators or "当前位置", menus of very short
   words, lines that repeat a breadcrumb's parts or start with its site name);
   contact and ads (phone numbers, and short call-to-action lines: 咨询热线,
   在线留言, 免费咨询…); reprint and copyright notices; bylines and page metadata
   (作者:, 发布时间:, "By …", a doctor's name/title/hospital/grade block).
   Phone numbers inside a long paragraph are cut out of the sentence rather than
   dropping the paragraph.
5. **Repeats inside the article:** the title repeated as a stray line, and
   paragraphs that are near-duplicates of an earlier one (one page repeats the
   same answer four times).
6. **Stray words inside a paragraph:** a "sentence" of one word between two
   sentences of Latin text ("...through massage therapy. Effect. The massage
   treatment...": a heading or a caption run into the paragraph by the scrape)
   says nothing, and an excerpt that quotes the sentences around it would show it.

Metadata is read before the lines go: the source URL from a reprint notice or
"原文链接" line, the date from a labelled 发布时间/更新时间 line. Every removed line
is kept in `Article.removed` with its reason, so an operator can see what went.
"""

from __future__ import annotations

import re

from common.text import detect_language, fold, near_duplicate, normalize_space, shingles
from corpus.article import Article, Block, Document, Removed
from corpus.linekinds import (
    META_RE,
    REPRINT_RE,
    URL_RE,
    breadcrumb_parts,
    line_kind,
    scrub_phones,
    unbullet,
)

# --- 1. markers that start a trailing, non-article section -------------------
_TAIL_MARKERS = [
    r"(相关|热门|推荐|延伸|精彩|最新|更多|同类)(推荐|文章|阅读|资讯|内容|链接|专题|问答|话题|知识)",
    r"(大家都在搜|猜你喜欢|(你|您)可能(还)?(感兴趣|喜欢)|为(你|您)推荐|热门搜索|看了(又看|还看))",
    r".{0,20}(还看了|也看了|都在看|都在搜|还在看)",
    r"(患者|网友|用户|读者)(热议|评论|留言|点评)|(全部|最新|热门|精彩)?评论(区|列表)?|发表评论|留言板",
    r"(上一篇|下一篇|上一页|下一页|上一条|下一条).*",
    r"(related|recommended|popular|more|similar)\s+(articles?|posts?|stories|reading|content)",
    r"(you\s+(may|might)\s+also\s+like|read\s+more|further\s+reading|leave\s+a\s+(reply|comment))",
    r"(\d+\s+)?comments?|(previous|next)\s+(article|post|page).*",
]
_TAIL_RE = re.compile(r"^(?:" + "|".join(_TAIL_MARKERS) + r")[:：\s]*$", re.IGNORECASE)
_TAIL_MAX_LEN = 60
_BODY_BEFORE_TAIL = 200  # characters of kept text before a marker may end the article

# --- 2. dated blocks ---------------------------------------------------------
_DATE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
_DATE_LINE_RE = re.compile(rf"^(?:\S{{1,8}}\s+)?(?:{_DATE})(?:\s*{_TIME})?$|^{_TIME}$")
_DATE_IN_TEXT_RE = re.compile(rf"({_DATE})")
_BLOCK_LOOKBACK = 3  # lines that may precede the date line inside one dated block

_REPEAT_MIN_LINES = 5  # documents shorter than this are not compared across the corpus
_REPEAT_MAX_LEN = 200
_COPY_SHARE = 0.8  # two documents sharing this much of the shorter one's lines (all of them) are copies (repeated_lines)
# Bigram containment above which a paragraph repeats an earlier one of the same
# article. Rewordings of the same answer share 60-70% of their bigrams; distinct
# paragraphs about one topic share well under half.
_DUPLICATE_PARAGRAPH = 0.6
_DUPLICATE_SHORT = 0.9  # short lines (headings) share many bigrams by topic alone
_DUPLICATE_SHORT_CHARS = 30
_DUPLICATE_MIN_CHARS = 8
_HEADING_MAX_CHARS = {"zh": 40, "en": 90}
_TITLE_MAX_CHARS = 120


def clean_documents(docs: list[Document], known_boilerplate: set[str] | frozenset[str] = frozenset()) -> list[Article]:
    """Clean a corpus; lines repeated across its documents are treated as boilerplate.

    `known_boilerplate` (keys from `repeated_lines` of an earlier build) keeps a
    line boilerplate after the other pages that carried it are removed, so that
    removing one article never changes how another is cleaned.
    """
    repeated = repeated_lines(docs) | set(known_boilerplate)
    articles = []
    for doc in docs:
        article = clean_document(doc, repeated)
        if article.blocks:
            articles.append(article)
    return articles


def repeated_lines(docs: list[Document]) -> set[str]:
    """Comparison keys of short lines that occur in two or more documents of a corpus, a
    document and its copies counted once. A copy has the same lines as another, or shares at
    least _COPY_SHARE of the shorter one's lines, its paragraphs included (two pages of one
    site share their menus, not their text); its lines are not boilerplate. Without this,
    indexing a copy of an article stripped the original of its title and every line of 200
    characters or fewer, for good: the index remembers boilerplate."""
    holders: dict[str, list[int]] = {}
    whole: list[frozenset[str]] = []  # each counted document's lines, long ones too
    seen: set[frozenset[str]] = set()
    for doc in docs:
        if len(doc.lines) < _REPEAT_MIN_LINES:
            continue
        lines = frozenset(k for k in (fold(b.text) for b in doc.lines) if k)
        if lines in seen:
            continue  # the same text as a document already counted
        seen.add(lines)
        for key in {fold(b.text) for b in doc.lines if len(b.text) <= _REPEAT_MAX_LEN} - {""}:
            holders.setdefault(key, []).append(len(whole))
        whole.append(lines)
    pairs = {tuple(held) for held in holders.values() if len(held) == 2}
    copies = {(a, b) for a, b in pairs if len(whole[a] & whole[b]) >= _COPY_SHARE * min(len(whole[a]), len(whole[b]))}
    return {key for key, held in holders.items() if len(held) >= 3 or (len(held) == 2 and tuple(held) not in copies)}


class _Cleaner:
    """State for cleaning one document: which lines are kept, and why the others went."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.lines = [Block(b.text, b.heading, b.level) for b in doc.lines]
        self.reason: list[str | None] = [None] * len(self.lines)
        self.url = doc.url
        self.date = doc.date

    def drop(self, i: int, reason: str) -> None:
        if self.reason[i] is None:
            self.reason[i] = reason

    def kept(self) -> list[int]:
        return [i for i, r in enumerate(self.reason) if r is None]


def clean_document(doc: Document, repeated: set[str] | None = None) -> Article:
    """Clean one document into an article (see the module docstring for the rules)."""
    c = _Cleaner(doc)
    _read_metadata(c)
    _drop_line_kinds(c, repeated or set())
    _drop_dated_blocks(c)
    _drop_tail(c)
    title = _take_title(c)
    _drop_repeats(c, title)

    strays = _drop_stray_words(c)
    blocks = [c.lines[i] for i in c.kept()]
    removed = [Removed(r, c.lines[i].text) for i, r in enumerate(c.reason) if r is not None and r != "title"] + strays
    lang = detect_language(title + " " + " ".join(b.text for b in blocks[:20]))
    _mark_headings(blocks, lang)
    return Article(
        path=doc.path,
        title=title,
        blocks=blocks,
        source_hash=doc.source_hash,
        url=c.url,
        date=c.date,
        lang=lang,
        removed=removed,
    )


def _read_metadata(c: _Cleaner) -> None:
    for block in c.lines:
        text = block.text
        if c.url is None and (REPRINT_RE.search(text) or META_RE.match(unbullet(text))):
            found = URL_RE.search(text)
            if found:
                c.url = found.group(0).rstrip(".,;")
        if c.date is None and META_RE.match(unbullet(text)) and re.search("发布|更新|时间|日期|date|posted|published|updated", text, re.I):
            found = _DATE_IN_TEXT_RE.search(text)
            if found:
                c.date = _iso_date(found.group(1))


def _iso_date(text: str) -> str:
    parts = re.findall(r"\d+", text)
    year, month, day = (int(p) for p in parts[:3])
    return f"{year:04d}-{month:02d}-{day:02d}"


def _drop_line_kinds(c: _Cleaner, repeated: set[str]) -> None:
    crumbs, site_names = breadcrumb_parts([b.text for b in c.lines])
    for i, block in enumerate(c.lines):
        text = unbullet(block.text)
        key = fold(text)
        if not key:
            c.drop(i, "navigation")
            continue
        if repeated and key in repeated and len(c.lines) >= _REPEAT_MIN_LINES:
            c.drop(i, "boilerplate (repeated across articles)")
            continue
        reason = line_kind(text, crumbs, site_names)
        if reason:
            c.drop(i, reason)
            continue
        scrubbed = scrub_phones(block.text)
        if scrubbed != block.text:
            block.text = scrubbed
    _drop_byline_names(c)


def _drop_byline_names(c: _Cleaner) -> None:
    """A lone short name just before a byline that starts with it is part of the byline."""
    for i in range(len(c.lines) - 1):
        this, nxt = c.lines[i].text, c.lines[i + 1].text
        if c.reason[i] is None and c.reason[i + 1] == "byline/metadata" and len(this) <= 8 and nxt.startswith(this):
            c.drop(i, "byline/metadata")


def _drop_dated_blocks(c: _Cleaner) -> None:
    dated = [i for i, block in enumerate(c.lines) if _DATE_LINE_RE.match(block.text)]
    for i in dated:
        c.drop(i, "byline/metadata")
    # Runs of two or more blocks closed by a date line: comments or listing teasers.
    runs: list[list[int]] = []
    for i in dated:
        if runs and i - runs[-1][-1] <= _BLOCK_LOOKBACK + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        if len(run) < 2:
            continue
        gap = min(_BLOCK_LOOKBACK, max(run[k + 1] - run[k] - 1 for k in range(len(run) - 1)))
        start = max(0, run[0] - gap)
        for i in range(start, run[-1] + 1):
            c.drop(i, "comments/teasers (dated blocks)")


def _drop_tail(c: _Cleaner) -> None:
    seen = 0
    for i, block in enumerate(c.lines):
        text = unbullet(block.text)
        if seen >= _BODY_BEFORE_TAIL and _is_tail_marker(text):
            for j in range(i, len(c.lines)):
                c.drop(j, f"related/comments section (from “{text[:20]}”)")
            return
        if c.reason[i] is None:
            seen += len(text)


def _is_tail_marker(text: str) -> bool:
    return len(text) <= _TAIL_MAX_LEN and bool(_TAIL_RE.match(text))


def _take_title(c: _Cleaner) -> str:
    kept = c.kept()
    title = c.doc.title
    if title:
        title = normalize_space(title)
        if kept and fold(c.lines[kept[0]].text) == fold(title):
            c.drop(kept[0], "title")
        return title
    if not kept:
        return ""
    first = kept[0]
    text = c.lines[first].text
    if len(kept) == 1 or len(text) > _TITLE_MAX_CHARS or re.search(r"[。；;]|\.\s", text[:-1]):
        return ""  # the text is a single paragraph or starts with one: there is no title line
    c.drop(first, "title")
    return _dedupe_parenthetical(text)


def _dedupe_parenthetical(title: str) -> str:
    """"X(X)" -> "X": some sites repeat the title in brackets."""
    m = re.fullmatch(r"(.+?)\s*[(（](.+)[)）]", title)
    if m and fold(m.group(1)) == fold(m.group(2)):
        return m.group(1).strip()
    return title


def _drop_repeats(c: _Cleaner, title: str) -> None:
    title_key = fold(title)
    kept_shingles: list[set[str]] = [shingles(title, 2)]
    for i in c.kept():
        text = c.lines[i].text
        if fold(text) == title_key:
            c.drop(i, "duplicate (title repeated)")
            continue
        grams = shingles(text, 2)
        size = len(fold(text))
        threshold = _DUPLICATE_PARAGRAPH if size >= _DUPLICATE_SHORT_CHARS else _DUPLICATE_SHORT
        if size >= _DUPLICATE_MIN_CHARS and any(near_duplicate(grams, seen, threshold) for seen in kept_shingles):
            c.drop(i, "duplicate (repeated paragraph)")
            continue
        kept_shingles.append(grams)


# One capitalised word and a full stop, between the end of one sentence and the start of the next
_STRAY_WORD_RE = re.compile(r"(?<=[a-z0-9,;)][.!?])\s+([A-Z][a-z]{0,24}[.!])(?=\s+[A-Z])")


def _drop_stray_words(c: _Cleaner) -> list[Removed]:
    """Cut one-word "sentences" out of kept paragraphs of Latin text (rule 6); what went, as Removed."""
    removed = []
    for i in c.kept():
        block = c.lines[i]
        if block.heading or detect_language(block.text) != "en":
            continue
        words = _STRAY_WORD_RE.findall(block.text)
        if words:
            block.text = _STRAY_WORD_RE.sub("", block.text)
            removed += [Removed("stray word inside a paragraph", word) for word in words]
    return removed


def _mark_headings(blocks: list[Block], lang: str) -> None:
    """Plain text has no markup: a short line that reads like a title and introduces a
    longer paragraph is a heading. Blocks already marked (Markdown, HTML) are left alone."""
    if any(b.heading for b in blocks):
        return
    limit = _HEADING_MAX_CHARS[lang]
    # Backwards, so that a heading directly above a sub-heading is recognised too.
    for block, nxt in reversed(list(zip(blocks, blocks[1:]))):
        text = block.text
        if (
            len(text) <= limit
            and (nxt.heading or len(nxt.text) > len(text))
            and not re.search(r"[。；;]|\.\s", text)
            and not re.search(r"[,，:：、.]$", text)
            and len(re.findall(r"[,，]", text)) <= 1
        ):
            block.heading = True
