"""Pseudonymous users: a user id is stored as a salted HMAC unless the operator opts in to raw ids."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from convlog.database import LogError

SALT_FILE = "log-salt"  # in the data directory, when ARTICLEBOT_LOG_SALT is not set


def pseudonym(user: int | str, salt: str) -> str:
    """A stable, salted, one-way id for a user."""
    return hmac.new(salt.encode(), str(user).encode(), hashlib.sha256).hexdigest()[:16]


def load_salt(data_dir: Path, configured: str | None) -> str:
    """ARTICLEBOT_LOG_SALT, or a random salt kept in the data directory (created once)."""
    if configured:
        return configured
    path = Path(data_dir) / SALT_FILE
    salt = _stored_salt(path)
    if salt is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_hex(16)
        path.touch(mode=0o600)
        path.write_text(salt + "\n")
    return salt


def check_salt(data_dir: Path, configured: str | None) -> None:
    """Raise LogError if the salt file in use exists but is empty or unreadable (creates nothing)."""
    if not configured:
        _stored_salt(Path(data_dir) / SALT_FILE)


def _stored_salt(path: Path) -> str | None:
    """The salt kept in `path`, None if there is no such file; LogError if it is empty or unreadable."""
    try:
        salt = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LogError(f"Cannot read the log salt file {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    if not salt:
        raise _empty(path)
    return salt


def _empty(path: Path) -> LogError:
    """An empty salt would make every pseudonym an unsalted hash of the user id."""
    return LogError(
        f"The log salt file {path} is empty: set ARTICLEBOT_LOG_SALT to the salt used so far, or delete the file "
        "to have a new salt made (pseudonyms logged before will then no longer match)."
    )
