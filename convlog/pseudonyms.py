"""Pseudonymous users: a user id is stored as a salted HMAC unless the operator opts in to raw ids."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path


def pseudonym(user: int | str, salt: str) -> str:
    """A stable, salted, one-way id for a user."""
    return hmac.new(salt.encode(), str(user).encode(), hashlib.sha256).hexdigest()[:16]


def load_salt(data_dir: Path, configured: str | None) -> str:
    """ARTICLEBOT_LOG_SALT, or a random salt kept in the data directory (created once)."""
    if configured:
        return configured
    path = Path(data_dir) / "log-salt"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_hex(16)
        path.touch(mode=0o600)
        path.write_text(salt + "\n")
        return salt
