"""Read article files (.txt, .md, .html) from a folder into `Document` records.

Files are found recursively (hidden files and folders are skipped) and decoded
with their own encoding: UTF-8 (with or without BOM) first, then GB18030 (the
superset of GBK/GB2312 that Chinese sites still use; English with a few accented
letters saved as Windows-1252 is read as such first), then whatever charset-normalizer
is confident about, if that reads as Chinese or Western text (a guess that gives
Cyrillic, Hangul or scattered symbols is taken for garbage and the file is skipped). A UTF-8 file with a few stray bytes that
are not UTF-8 (under 1%) is read as UTF-8 without them, with a note. A file that
is binary, empty or cannot be decoded becomes a `LoadProblem` instead of
stopping the load.

Nothing outside the corpus folder is ever read. Symbolic links are never
followed: a link that points outside the folder, to nothing, or in a loop is
skipped with that reason, and so is a link to another place inside the folder
(what it points to is read under its own name, once, unless it is hidden).
Folders that cannot be listed are skipped with a reason. Each file is opened by
its real path and checked to be the very file the walk found (inode), inside the
folder, so a file swapped for a link in between is not read either. File names
that are not valid UTF-8, or hold control characters, are kept with those bytes
written as backslash escapes (`printable`): that is the article's name in the index.

HTML goes through trafilatura, a maintained main-content extractor, which drops
the page's navigation and boilerplate markup and gives the title, canonical URL
and date; its Markdown output is then read like a `.md` file, so headings keep
their levels. Plain text is kept line by line: the cleaner decides what is a
heading.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import NamedTuple

from common.text import CJK_RE, normalize_space, strip_controls
from corpus.article import Article, Block, Document, LoadProblem

SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm"}
# documents an operator may take for articles; they are listed as skipped, with what to do (other files are ignored)
DOCUMENT_SUFFIXES = {".pdf", ".doc", ".docx", ".odt", ".rtf", ".wps", ".pages"}
MAX_FILE_BYTES = 5 * 1024 * 1024
# what a file of those formats starts with, whatever its name says (a PDF saved as "notes.txt")
DOCUMENT_MAGIC = (
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "Word, OpenDocument or zip file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Word or WPS document"),
    (b"{\\rtf", "RTF document"),
)

_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_MD_LIST_RE = re.compile(r"^\s*(?:[-*+]\s+|>\s*)")
# a backslash before ASCII punctuation makes it a literal character (CommonMark); trafilatura's
# Markdown escapes every such character of an HTML page's text ("a_b", "1*2", "<b>" -> "a\_b", ...)
_MD_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")
_ESCAPED = 0xF0000  # escaped characters are held in Unicode's private use plane 15 while markup is read


def _hold_escapes(line: str) -> str:
    return _MD_ESCAPE_RE.sub(lambda m: chr(_ESCAPED + ord(m.group(1))), line)


def _release_escapes(text: str) -> str:
    return re.sub("[\U000F0021-\U000F007E]", lambda m: chr(ord(m.group()) - _ESCAPED), text)


class CorpusError(Exception):
    """A problem with the corpus as a whole (missing folder, no articles)."""


LINK_OUTSIDE = "points outside the corpus folder"
MAX_BAD_UTF8 = 0.01  # the share of stray bytes a UTF-8 file may hold and still be read as UTF-8


class ArticleFile(NamedTuple):
    """An article file the walk found: its path, its name in the corpus and the inode it had."""

    path: Path
    rel: str  # relative to the corpus folder, "/" separators, as the file system spells it
    key: tuple[int, int]  # (device, inode): what reading checks it opens


def printable(text: str) -> str:
    """`text` safe to print, store and send: bytes of a file name that are not UTF-8 and
    control or format characters become backslash escapes (b"\\xff" -> "\\xff", a newline -> "\\n")."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(ch.encode("unicode_escape").decode("ascii") if _hidden_char(ch) else ch for ch in text)


def _hidden_char(ch: str) -> bool:
    """Control, format, surrogate and line-separator characters: never shown raw."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def list_folder(folder: Path) -> list[os.DirEntry]:
    """A folder's entries sorted by name (the one place the corpus walk lists a folder)."""
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda entry: entry.name)


def _os_reason(exc: OSError, what: str = "cannot be read") -> str:
    """An OSError as a reason, without the path (it is on the line already)."""
    return f"{what} ({exc.strerror or type(exc).__name__})"


def find_article_files(root: Path) -> tuple[list[ArticleFile], list[LoadProblem]]:
    """Article files under `root`, recursively, in a stable order, and the entries skipped with a
    reason (links, folders that cannot be listed). Only real folders are entered: no loops."""
    root = Path(root)
    real_root = Path(os.path.realpath(root))
    found: list[ArticleFile] = []
    problems: list[LoadProblem] = []
    try:
        stack = [("", iter(list_folder(root)))]
    except OSError as exc:
        raise CorpusError(f"The corpus folder {printable(str(root))} {_os_reason(exc)}.") from None
    seen = {_folder_key(root)}
    while stack:
        prefix, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        rel = prefix + entry.name
        try:
            if entry.is_symlink():
                reason = _link_problem(Path(entry.path), real_root)
                if reason:
                    problems.append(LoadProblem(printable(rel), reason))
            elif entry.is_dir(follow_symlinks=False):
                _enter(entry, rel, stack, seen, problems)
            elif entry.is_file(follow_symlinks=False) and Path(entry.name).suffix.lower() in SUFFIXES:
                info = entry.stat(follow_symlinks=False)
                found.append(ArticleFile(Path(entry.path), rel, (info.st_dev, info.st_ino)))
            elif entry.is_file(follow_symlinks=False) and (suffix := Path(entry.name).suffix.lower()) in DOCUMENT_SUFFIXES:
                problems.append(LoadProblem(printable(rel), f"a {suffix} document is not read: save it as .txt, .md or .html"))
        except OSError as exc:
            problems.append(LoadProblem(printable(rel), _os_reason(exc)))
    return found, problems


def _enter(entry: os.DirEntry, rel: str, stack: list, seen: set[tuple[int, int]], problems: list[LoadProblem]) -> None:
    """Queue a sub-folder's entries, or say why it is skipped (it cannot be listed)."""
    try:
        key = _folder_key(Path(entry.path))
        if key in seen:  # a folder mounted inside itself
            return
        seen.add(key)
        stack.append((rel + "/", iter(list_folder(Path(entry.path)))))
    except OSError as exc:
        problems.append(LoadProblem(printable(rel), _os_reason(exc, "a folder that cannot be read")))


def _folder_key(folder: Path) -> tuple[int, int]:
    info = os.stat(folder)
    return info.st_dev, info.st_ino


def _link_problem(link: Path, real_root: Path) -> str | None:
    """Why a symbolic link is skipped (links are never followed), or None for a link to a file
    whose name is not an article's (it would not be read anyway)."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link in a loop"
        if exc.errno == errno.ENOENT:
            return "a symbolic link to nothing (its target does not exist)"
        return _os_reason(exc, "a symbolic link that cannot be followed")
    if not target.is_dir() and link.suffix.lower() not in SUFFIXES:
        return None
    if not target.is_relative_to(real_root):
        return LINK_OUTSIDE
    inside = target.relative_to(real_root).as_posix()
    return f"a symbolic link to {printable(inside)} in the corpus (links are not followed)"


def decode(raw: bytes) -> str:
    """Decode article bytes: UTF-8, then GB18030, then charset-normalizer's best guess."""
    return decode_noted(raw)[0]


def decode_noted(raw: bytes) -> tuple[str, str | None]:
    """`decode`, and a note when something was dropped (stray bytes in a UTF-8 file)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark (Windows Notepad's "Unicode")
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError("UTF-16 with damaged bytes: save it as UTF-8") from None
        if not _plausible(text):
            raise ValueError("cannot tell its text encoding")
        return text, None
    if b"\x00" in raw[:8192]:
        raise ValueError("looks like a binary file, not text")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    mended = _mostly_utf8(raw)
    if mended is not None:
        return mended
    western = _western(raw)
    if western is not None:
        return western, None
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _mostly_printable(text):
        return text, None
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None or not _plausible(str(best)):
        # a guess that reads as Cyrillic, Hangul or scattered symbols is garbage for this corpus, not an article
        raise ValueError("cannot tell its text encoding")
    return str(best), None


WESTERN_ISOLATED = 0.9  # share of non-ASCII bytes standing alone between ASCII ones in a Western (cp1252) file
_NON_ASCII_RUN = re.compile(rb"[\x80-\xff]+")


def _western(raw: bytes) -> str | None:
    """English (or other Western) text saved as Windows-1252 / Latin-1 ("naïve", "Café"): its
    non-ASCII bytes are single letters between ASCII ones. Chinese in GBK comes in runs of
    two-byte characters, so it is never read so."""
    runs = _NON_ASCII_RUN.findall(raw)
    high = sum(map(len, runs))
    if not high or sum(len(run) == 1 for run in runs) < WESTERN_ISOLATED * high:
        return None
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return None


PLAUSIBLE = 0.95  # share of a guessed decoding's characters that must be Chinese, Latin or punctuation


def _plausible(text: str) -> bool:
    """Whether a decoding charset-normalizer guessed reads as Chinese or Western text."""
    if not text:
        return True
    good = sum(1 for ch in text if ch.isspace() or _expected_char(ch))
    return good >= PLAUSIBLE * len(text)


def _expected_char(ch: str) -> bool:
    code = ord(ch)
    return (
        0x20 <= code < 0x7F  # ASCII
        or 0xA0 <= code <= 0x17F  # Latin-1 and Latin Extended-A letters and signs
        or 0x2000 <= code <= 0x206F  # general punctuation
        or 0x3000 <= code <= 0x303F  # CJK punctuation
        or CJK_RE.match(ch) is not None  # Chinese characters, as the rest of the project defines them
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
    )


def _mostly_utf8(raw: bytes) -> tuple[str, str] | None:
    """UTF-8 without its few stray bytes, when under MAX_BAD_UTF8 of the file is not UTF-8 and its
    valid multi-byte characters far outnumber the strays (a GBK file with a few Chinese
    characters in English text has no valid ones: it is left to GB18030)."""
    replaced = raw.decode("utf-8-sig", errors="replace")
    bad = replaced.count("\ufffd") - raw.count("\ufffd".encode())
    wide = sum(1 for ch in replaced if ord(ch) > 0x7F) - bad
    if not 0 < bad <= len(raw) * MAX_BAD_UTF8 or wide < 10 * bad:
        return None
    text = raw.decode("utf-8-sig", errors="ignore")
    return text, f"read as UTF-8 without {bad} stray byte{'s' if bad > 1 else ''} that {'are' if bad > 1 else 'is'} not UTF-8"


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
    """Markdown: `#` headings keep their level, inline markup is dropped, backslash escapes
    give the characters they escape ("1\\*2" is "1*2"); returns (blocks, first h1)."""
    blocks: list[Block] = []
    title = None
    in_fence = False
    for line in strip_controls(text).splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        line = _hold_escapes(line)
        heading = _MD_HEADING_RE.match(line.strip())
        line = _MD_LIST_RE.sub("", line)
        line = _MD_LINK_RE.sub(r"\1", line)
        line = _MD_EMPHASIS_RE.sub(r"\2", line)
        if heading:
            text_ = _release_escapes(normalize_space(_MD_EMPHASIS_RE.sub(r"\2", _MD_LINK_RE.sub(r"\1", heading.group(2)))))
            if not text_:
                continue
            level = len(heading.group(1))
            if level == 1 and title is None:
                title = text_
            blocks.append(Block(text_, heading=True, level=level))
            continue
        line = normalize_space(line)
        if line and not re.fullmatch(r"[-*_=|: ]{3,}", line):
            blocks.append(Block(_release_escapes(line)))
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


def read_inside(file: ArticleFile, real_root: Path) -> bytes:
    """The file's bytes, opened by its real path and only if that is inside the corpus folder
    and is still the file the walk found (not swapped for a link or another file meanwhile)."""
    real = Path(os.path.realpath(file.path))
    if not real.is_relative_to(real_root):
        raise ValueError(LINK_OUTSIDE)
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with open(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != file.key:
            raise ValueError("changed while the corpus was being read (index again)")
        raw = fh.read(MAX_FILE_BYTES + 1)
    if max(len(raw), info.st_size) > MAX_FILE_BYTES:
        raise ValueError(f"too large ({max(len(raw), info.st_size) // 1024} KiB; the limit is {MAX_FILE_BYTES // 1024} KiB)")
    return raw


def document_kind(raw: bytes) -> str | None:
    """The kind of document (DOCUMENT_MAGIC) that `raw` starts with, or None for text."""
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:16]
    return next((kind for magic, kind in DOCUMENT_MAGIC if head.startswith(magic)), None)


def read_document(file: ArticleFile, real_root: Path) -> Document:
    """Read and parse one file; raises ValueError with a reason when it is unusable."""
    raw = read_inside(file, real_root)
    if not raw.strip():
        raise ValueError("empty file")
    kind = document_kind(raw)
    if kind:
        raise ValueError(f"a {kind}, though named {file.path.suffix.lower()}: save its text as .txt, .md or .html")
    text, note = decode_noted(raw)
    rel = printable(file.rel)
    source_hash = hashlib.sha256(raw).hexdigest()
    suffix = file.path.suffix.lower()
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
    if note:
        doc.notes.append(note)
    return doc


def read_documents(root: Path, *, progress: bool = False) -> tuple[list[Document], list[LoadProblem]]:
    """Read every article file under `root`; unusable files become problems, not errors."""
    from tqdm import tqdm

    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"The corpus folder {printable(str(root))} does not exist.")
    files, problems = find_article_files(root)
    real_root = Path(os.path.realpath(root))
    docs: list[Document] = []
    for file in tqdm(files, desc="articles", unit="file", disable=not progress):
        rel = printable(file.rel)
        try:
            docs.append(read_document(file, real_root))
        except OSError as exc:
            problems.append(LoadProblem(rel, _os_reason(exc)))
        except ValueError as exc:
            problems.append(LoadProblem(rel, printable(str(exc))))
        except Exception as exc:  # noqa: BLE001 - a parser failing on one odd file must not stop the rest
            problems.append(LoadProblem(rel, printable(f"could not be parsed ({type(exc).__name__}: {exc})")))
    return _unique_names(docs, problems)


def _unique_names(docs: list[Document], problems: list[LoadProblem]) -> tuple[list[Document], list[LoadProblem]]:
    """Two files whose names are the same once made printable: the second is skipped."""
    seen: set[str] = set()
    kept = []
    for doc in docs:
        if doc.path in seen:
            problems.append(LoadProblem(doc.path, "another file has the same name once its odd bytes are escaped"))
        else:
            seen.add(doc.path)
            kept.append(doc)
    return kept, problems


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
