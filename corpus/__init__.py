"""Articles in, clean passages out: load, clean and chunk the article corpus."""

from pathlib import Path

from corpus.article import Article, Block, Document, LoadProblem, Removed
from corpus.chunk import Chunk, chunk_article, chunk_articles
from corpus.load import CorpusError, load_corpus, read_documents

DEFAULT_CORPUS = Path(__file__).resolve().parent / "articles"

__all__ = [
    "Article",
    "Block",
    "Chunk",
    "CorpusError",
    "DEFAULT_CORPUS",
    "Document",
    "LoadProblem",
    "Removed",
    "chunk_article",
    "chunk_articles",
    "load_corpus",
    "read_documents",
]
