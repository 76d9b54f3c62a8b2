"""Open the configured index and model as a ready answer pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config
from embeddings import SentenceTransformerEncoder
from retrieval.answer import Pipeline
from retrieval.index import Index
from retrieval.safety import RedFlags
from retrieval.search import Searcher


@dataclass
class LibraryInfo:
    """What /start and /about say about the corpus."""

    articles: int
    chunks: int
    indexed_at: str
    model: str
    titles: list[str]


def make_encoder(config: Config) -> SentenceTransformerEncoder:
    """The configured embedding model, with its query instruction."""
    return SentenceTransformerEncoder(
        config.model, query_prefix=config.query_prefix, backend=config.backend, cache_dir=config.model_cache
    )


def open_pipeline(config: Config) -> Pipeline:
    """Load the live index (checking its model first, which is cheap) and then the model."""
    index = Index.load(config.data_dir, config.model)
    encoder = make_encoder(config)
    searcher = Searcher(index, encoder, data_dir=config.data_dir)  # follows re-indexes while running
    red_flags = RedFlags.load(config.redflags) if config.redflags else RedFlags.load()
    return Pipeline(searcher, min_score=config.min_score, top_k=config.top_k, red_flags=red_flags)


def library_info(pipeline: Pipeline) -> LibraryInfo:
    """What the live index holds (for /start and /about)."""
    pipeline.searcher.refresh(force=True)
    index = pipeline.searcher.index
    articles = index.store.articles()
    return LibraryInfo(
        articles=index.meta.articles,
        chunks=index.meta.chunks,
        indexed_at=index.meta.created.replace("T", " ").replace("+00:00", ""),
        model=index.meta.model,
        titles=[title or path for path, title, _ in articles],
    )


def open_log(config: Config):
    """The conversation log, or None (with a line on stderr) when it cannot be opened:
    answering goes on without it."""
    import sys

    from bot.convlog import ConversationLog, LogError, load_salt, log_url

    try:
        url = log_url(config.data_dir, config.log_url)
        return ConversationLog(url, salt=load_salt(config.data_dir, config.log_salt), raw_user_ids=config.log_raw_user_ids)
    except (LogError, OSError) as exc:
        print(f"articlebot: conversations will not be logged: {exc}", file=sys.stderr)
        return None
