"""Records for articles as they come out of loading and cleaning."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Block:
    """One paragraph, or a heading, of an article's cleaned body."""

    text: str
    heading: bool = False
    level: int = 0  # heading level when known (Markdown/HTML), 0 when guessed


@dataclass
class Removed:
    """A line the cleaner dropped, and why (shown by `articlebot index --verbose`)."""

    reason: str
    text: str


@dataclass
class Document:
    """A file as read from disk, before cleaning: lines plus whatever metadata the format gave."""

    path: str  # relative to the corpus folder, with "/" separators
    lines: list[Block]
    source_hash: str
    title: str | None = None
    url: str | None = None
    date: str | None = None
    notes: list[str] = field(default_factory=list)  # what reading mended (stray bytes dropped), for the report


@dataclass
class Article:
    """A cleaned article: its title, metadata and body blocks."""

    path: str  # relative to the corpus folder: the article's id in the index
    title: str
    blocks: list[Block]
    source_hash: str
    url: str | None = None
    date: str | None = None
    lang: str = "zh"
    removed: list[Removed] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The cleaned body as plain text, one block a paragraph."""
        return "\n\n".join(block.text for block in self.blocks)


@dataclass
class LoadProblem:
    """A file that could not be used, with a reason a person can act on."""

    path: str
    reason: str
