"""Split cleaned articles into passages ("chunks") for embedding and quoting.

- Sections: a heading (or a run of headings) plus the paragraphs under it. A
  heading is never a chunk of its own: it is carried into the chunk of the
  paragraph it introduces, and into what is embedded.
- Size: chunks aim at `min_chars`..`max_chars` characters (150..500 by default).
  A short section is merged with the next one; a long one is split at sentence
  boundaries (。！？；… and English . ! ?), the next piece starting with the last
  sentence of the previous one when that sentence is short (the overlap).
- What is embedded is "title / heading" followed by the text, so a passage keeps
  the context of the article it came from.
- Ids: a chunk's id is derived from its article's path and its own content, so it
  is stable across re-indexing as long as the text does not change; `content_hash`
  is the SHA-256 of what is embedded.
- Near-duplicates: a chunk whose text is nearly the same as an earlier chunk of the
  same article (80% of its character trigrams), or practically identical to one of
  another article (95%), is dropped. Search drops near-identical hits as well, so a
  reply never quotes the same text twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from common.text import near_duplicate, sha256, shingles, split_sentences, to_simplified
from corpus.article import Article

MIN_CHARS = 150
MAX_CHARS = 500
TARGET_CHARS = 400  # a chunk is closed once it passes this and the next sentence would overflow MAX
OVERLAP_MAX_CHARS = 120
DUPLICATE_THRESHOLD = 0.8  # within one article (a page repeating its own answer)
# Across articles only (almost) identical text is collapsed: templated answers that
# differ in a name or a number ("桐乡市…" / "嘉兴市…") are different passages.
DUPLICATE_ACROSS_ARTICLES = 0.95


@dataclass
class Chunk:
    """A passage of an article: the unit that is embedded, searched and quoted."""

    chunk_id: str
    article: str  # the article's path relative to the corpus folder
    title: str
    heading: str | None
    text: str
    ordinal: int
    content_hash: str

    @property
    def embed_text(self) -> str:
        """What the encoder sees: the article title and section heading, then the text."""
        return embed_text(self.title, self.heading, self.text)


def embed_text(title: str, heading: str | None, text: str) -> str:
    """The text that is embedded for a chunk, in simplified characters as search compares
    it (common.text.to_simplified); the chunk's own text keeps the characters as written."""
    head = " / ".join(part for part in (title, heading) if part)
    return to_simplified(f"{head}\n{text}" if head else text)


@dataclass
class _Section:
    heading: str | None
    paragraphs: list[str]


def _sections(article: Article) -> list[_Section]:
    sections: list[_Section] = []
    headings: list[str] = []
    for block in article.blocks:
        if block.heading:
            if sections and not sections[-1].paragraphs:
                sections.pop()
            headings.append(block.text)
            continue
        if headings:
            sections.append(_Section(" / ".join(headings), [block.text]))
            headings = []
        elif sections:
            sections[-1].paragraphs.append(block.text)
        else:
            sections.append(_Section(None, [block.text]))
    if headings:  # trailing headings with nothing under them: keep their words
        sections.append(_Section(None, [" ".join(headings)]))
    return sections


def _pieces(text: str, max_chars: int) -> list[str]:
    """Sentences of a paragraph, with any sentence longer than max_chars cut at commas or hard."""
    out: list[str] = []
    for sentence in split_sentences(text):
        while len(sentence) > max_chars:
            window = sentence[:max_chars]
            cut = max(window.rfind(p) for p in "，,、 ")
            cut = cut + 1 if cut > max_chars // 2 else max_chars
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


def chunk_article(
    article: Article,
    min_chars: int = MIN_CHARS,
    max_chars: int = MAX_CHARS,
) -> list[Chunk]:
    """Chunks of one article, in reading order (no corpus-wide de-duplication)."""
    target = min(TARGET_CHARS, max_chars)
    texts: list[tuple[str | None, str]] = []
    heading: str | None = None
    paragraphs: list[list[str]] = []  # the chunk being built: paragraphs of sentences
    size = 0

    def flush() -> None:
        nonlocal paragraphs, size
        text = "\n".join(_join(p) for p in paragraphs if p)
        if text:
            texts.append((heading, text))
        paragraphs, size = [], 0

    for section in _sections(article):
        if paragraphs and size >= min_chars:
            flush()
        if not paragraphs:
            heading = section.heading
        elif section.heading:
            paragraphs.append([section.heading])  # a merged section keeps its heading in the text
            size += len(section.heading)
        for paragraph in section.paragraphs:
            paragraphs.append([])
            for sentence in _pieces(paragraph, max_chars):
                if size and (size >= target or size + len(sentence) > max_chars):
                    last = paragraphs[-1][-1] if paragraphs[-1] else ""
                    flush()
                    heading = section.heading or heading  # a continuation belongs to this section
                    if last and len(last) <= OVERLAP_MAX_CHARS and len(last) + len(sentence) <= max_chars:
                        paragraphs, size = [[last]], len(last)
                    else:
                        paragraphs = [[]]
                paragraphs[-1].append(sentence)
                size += len(sentence)
    flush()

    chunks = []
    for ordinal, (head, text) in enumerate(texts):
        content_hash = sha256(embed_text(article.title, head, text))
        chunk_id = hashlib.sha1(f"{article.path}\n{content_hash}".encode()).hexdigest()[:16]
        chunks.append(Chunk(chunk_id, article.path, article.title, head, text, ordinal, content_hash))
    return chunks


def _join(sentences: list[str]) -> str:
    """Join sentences the way the source did: no space in Chinese, a space in English."""
    out = ""
    for sentence in sentences:
        if out and re.search(r"[A-Za-z0-9.,;:!?)\]\"']$", out) and re.match(r"[A-Za-z0-9(\"']", sentence):
            out += " "
        out += sentence
    return out


def chunk_articles(
    articles: list[Article],
    min_chars: int = MIN_CHARS,
    max_chars: int = MAX_CHARS,
    duplicates: dict[str, str] | None = None,
) -> list[Chunk]:
    """Chunks of a corpus, with near-duplicate passages (within or across articles) collapsed.

    When `duplicates` is given, it receives every article none of whose chunks was
    kept because another article holds the same text: {its path: that article's path}.
    """
    kept: list[Chunk] = []
    seen: dict[str, int] = {}  # content hash or chunk id -> index of the kept chunk
    kept_shingles: list[set[str]] = []
    by_sample: dict[str, list[int]] = {}  # sampled shingle -> kept chunks that have it
    same_text_as: dict[str, str] = {}  # article -> first other article a chunk of it was collapsed into
    for article in articles:
        for chunk in chunk_article(article, min_chars, max_chars):
            twin = seen.get(chunk.content_hash, seen.get(chunk.chunk_id))
            if twin is None:
                grams = shingles(chunk.text)
                sample = _sample(grams)
                candidates = sorted({i for g in sample for i in by_sample.get(g, ())})
                twin = next(
                    (
                        i
                        for i in candidates
                        if near_duplicate(
                            grams,
                            kept_shingles[i],
                            DUPLICATE_THRESHOLD if kept[i].article == chunk.article else DUPLICATE_ACROSS_ARTICLES,
                        )
                    ),
                    None,
                )
            if twin is not None:
                if kept[twin].article != chunk.article:
                    same_text_as.setdefault(chunk.article, kept[twin].article)
                continue
            seen[chunk.content_hash] = seen[chunk.chunk_id] = len(kept)
            for g in sample:
                by_sample.setdefault(g, []).append(len(kept))
            kept.append(chunk)
            kept_shingles.append(grams)
    if duplicates is not None:
        indexed = {c.article for c in kept}
        duplicates.update({path: twin for path, twin in same_text_as.items() if path not in indexed})
    return kept


def _sample(grams: set[str], size: int = 16) -> list[str]:
    """A deterministic sample of a shingle set (the ones with the smallest hashes).

    Two texts that share 80% of their shingles almost surely share one of these, so
    only chunks meeting in the sample are compared in full (no all-pairs loop).
    """
    return sorted(grams, key=lambda g: hashlib.md5(g.encode()).digest())[:size]
