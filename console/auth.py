"""Who may use the console: the password (a token), sessions, CSRF tokens, and the hosts it answers.

The operator signs in with the token (ARTICLEBOT_CONSOLE_TOKEN, or one generated and
printed at start); the console then keeps a session in memory, named by an HttpOnly,
SameSite=Strict cookie. Every state-changing request (a POST) must carry the session's
CSRF token in its form, and an Origin header, when the browser sends one, must be the
console's own. Wrong tokens are throttled, so the password cannot be guessed at speed.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

COOKIE = "articlebot_console"
SESSION_SECONDS = 12 * 3600  # a session unused this long must sign in again
MAX_SESSIONS = 200  # the oldest are dropped beyond this
MAX_FAILURES = 10  # wrong tokens accepted per FAILURE_WINDOW seconds, from anyone, before sign-in pauses
FAILURE_WINDOW = 60.0


def new_token() -> str:
    """A console password to print at start (when none is configured)."""
    return secrets.token_urlsafe(18)


def same_token(given: str | None, expected: str) -> bool:
    """Whether `given` is the token, compared in constant time."""
    return hmac.compare_digest((given or "").encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


@dataclass
class Session:
    """A signed-in browser: its id (the cookie) and the CSRF token its forms carry."""

    id: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    seen: float = field(default_factory=time.monotonic)
    flash: list[str] = field(default_factory=list)  # messages shown once, on the next page


class Sessions:
    """The signed-in sessions, in memory (a restart signs everyone out)."""

    def __init__(self, lifetime: float = SESSION_SECONDS, limit: int = MAX_SESSIONS):
        self.lifetime = lifetime
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self) -> Session:
        session = Session()
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.limit:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown or expired)."""
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.seen > self.lifetime:
                del self._sessions[session_id]
                return None
            session.seen = now
            self._sessions.move_to_end(session_id)
            return session

    def drop(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


class Throttle:
    """At most `limit` wrong tokens in `window` seconds; then sign-in waits."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW):
        self.limit = limit
        self.window = window
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._failures and now - self._failures[0] > self.window:
            self._failures.popleft()

    def wait(self) -> float:
        """Seconds until another try is allowed (0: now)."""
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            if len(self._failures) < self.limit:
                return 0.0
            return max(0.0, self.window - (now - self._failures[0]))

    def failed(self) -> None:
        with self._lock:
            self._failures.append(time.monotonic())


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine's loopback ("127.0.0.1.evil.example" is not)."""
    bare = host.strip().strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host of a Host header, without its port ("[::1]:8765" -> "[::1]")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def same_origin(origin: str | None, host: str) -> bool:
    """Whether an Origin header (absent: yes) names the console itself."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.strip().lower()
