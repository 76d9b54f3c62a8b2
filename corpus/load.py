"""Read article files (.txt, .md, .html) from a folder into `Document` records.

Files are found recursively (hidden files and folders are skipped) and decoded
with their own encoding: UTF-8 (with or without BOM) first, then GB18030 (the
superset of GBK/GB2312 that Chinese sites still use), then whatever
charset-normalizer is confident about. A file that is binary, empty or cannot be
decoded becomes a `LoadProblem` instead of stopping the load.

HTML goes through trafilatura, a maintained main-content extractor, which drops
the page's navigation and boilerplate markup and gives the title, canonical URL
and date; its Markdown output is then read like a `.md` file, so headings keep
their levels. Plain text is kept line by line: the cleaner decides what is a
heading.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from common.text import normalize_space, strip_controls
from corpus.article import Article, Block, Document, LoadProblem

SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm"}
MAX_FILE_BYTES = 5 * 1024 * 1024

_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_MD_LIST_RE = re.compile(r"^\s*(?:[-*+]\s+|>\s*)")


class CorpusError(Exception):
    """A problem with the corpus as a whole (missing folder, no articles)."""


def iter_article_files(root: Path) -> Iterator[Path]:
    """Article files under `root`, recursively, in a stable order."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            yield path


def decode(raw: bytes) -> str:
    """Decode article bytes: UTF-8, then GB18030, then charset-normalizer's best guess."""
    if b"\x00" in raw[:8192]:
        raise ValueError("looks like a binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _mostly_printable(text):
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise ValueError("cannot tell its text encoding")
    return str(best)


def _mostly_printable(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for ch in text if not (ch.isprintable() or ch in "\n\r\t"))
    return bad / len(text) < 0.01


def parse_text(text: str) -> list[Block]:
    """Plain text: one block per non-empty line."""
    blocks = []
    for line in strip_controls(text).splitlines():
        line = normalize_space(line)
        if line:
            blocks.append(Block(line))
    return blocks


def parse_markdown(text: str) -> tuple[list[Block], str | None]:
    """Markdown: `#` headings keep their level, inline markup is dropped; returns (blocks, first h1)."""
    blocks: list[Block] = []
    title = None
    in_fence = False
    for line in strip_controls(text).splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        heading = _MD_HEADING_RE.match(line.strip())
        line = _MD_LIST_RE.sub("", line)
        line = _MD_LINK_RE.sub(r"\1", line)
        line = _MD_EMPHASIS_RE.sub(r"\2", line)
        if heading:
            text_ = normalize_space(_MD_EMPHASIS_RE.sub(r"\2", _MD_LINK_RE.sub(r"\1", heading.group(2))))
            if not text_:
                continue
            level = len(heading.group(1))
            if level == 1 and title is None:
                title = text_
            blocks.append(Block(text_, heading=True, level=level))
            continue
        line = normalize_space(line)
        if line and not re.fullmatch(r"[-*_=|: ]{3,}", line):
            blocks.append(Block(line))
    return blocks, title


def parse_html(html: str) -> tuple[list[Block], str | None, str | None, str | None]:
    """HTML: main content via trafilatura; returns (blocks, title, url, date)."""
    import trafilatura

    body = trafilatura.extract(
        html,
        output_format="markdown",
        include_formatting=True,
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
    )
    meta = trafilatura.extract_metadata(html)
    blocks, h1 = parse_markdown(body or "")
    title = (meta.title if meta else None) or h1
    url = meta.url if meta else None
    date = meta.date if meta else None
    return blocks, title, url, date


def read_document(path: Path, root: Path) -> Document:
    """Read and parse one file; raises ValueError with a reason when it is unusable."""
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"too large ({len(raw) // 1024} KiB; the limit is {MAX_FILE_BYTES // 1024} KiB)")
    if not raw.strip():
        raise ValueError("empty file")
    text = decode(raw)
    rel = path.relative_to(root).as_posix()
    source_hash = hashlib.sha256(raw).hexdigest()
    suffix = path.suffix.lower()
    if suffix in {".html", ".htm"}:
        blocks, title, url, date = parse_html(text)
        doc = Document(rel, blocks, source_hash, title=title, url=url, date=date)
    elif suffix in {".md", ".markdown"}:
        blocks, title = parse_markdown(text)
        doc = Document(rel, blocks, source_hash, title=title)
    else:
        doc = Document(rel, parse_text(text), source_hash)
    if not doc.lines:
        raise ValueError("no readable text in it")
    return doc


def read_documents(root: Path, *, progress: bool = False) -> tuple[list[Document], list[LoadProblem]]:
    """Read every article file under `root`; unusable files become problems, not errors."""
    from tqdm import tqdm

    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"The corpus folder {root} does not exist.")
    docs: list[Document] = []
    problems: list[LoadProblem] = []
    for path in tqdm(list(iter_article_files(root)), desc="articles", unit="file", disable=not progress):
        rel = path.relative_to(root).as_posix()
        try:
            docs.append(read_document(path, root))
        except (OSError, ValueError) as exc:
            problems.append(LoadProblem(rel, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a parser failing on one odd file must not stop the rest
            problems.append(LoadProblem(rel, f"could not be parsed ({type(exc).__name__}: {exc})"))
    return docs, problems


def clean_loaded(docs: list[Document], known_boilerplate: set[str] | frozenset[str] = frozenset()) -> tuple[list[Article], list[LoadProblem]]:
    """Clean read documents; those with nothing left become problems."""
    from corpus.clean import clean_documents

    articles = clean_documents(docs, known_boilerplate)
    kept = {a.path for a in articles}
    return articles, [LoadProblem(d.path, "nothing left after cleaning") for d in docs if d.path not in kept]


def load_corpus(root: Path) -> tuple[list[Article], list[LoadProblem]]:
    """Read, then clean, every article under `root`."""
    docs, problems = read_documents(root)
    articles, empty = clean_loaded(docs)
    return articles, problems + empty
