"""Per-user rate limit: at most N questions in a sliding window of seconds."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    """Sliding-window limiter keyed by user id; memory stays bounded by pruning idle users."""

    PRUNE_AT = 10_000

    def __init__(self, limit: int, window: float = 60.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, user_id: int) -> int:
        """0 when the user may ask now (and counts it), else the seconds to wait."""
        if self.limit <= 0:
            return 0
        now = self.clock()
        with self._lock:
            stamps = self._seen.setdefault(user_id, deque())
            while stamps and now - stamps[0] >= self.window:
                stamps.popleft()
            if len(stamps) >= self.limit:
                return max(1, math.ceil(self.window - (now - stamps[0])))
            stamps.append(now)
            if len(self._seen) > self.PRUNE_AT:
                self._prune(now)
            return 0

    def _prune(self, now: float) -> None:
        idle = [uid for uid, stamps in self._seen.items() if not stamps or now - stamps[-1] >= self.window]
        for uid in idle:
            del self._seen[uid]
