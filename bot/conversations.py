"""What each conversation asked last, so that a follow-up is understood (retrieval/followup.py).

A conversation is whatever the channel says it is: the terminal session, a Telegram
private chat, one user within a group. Only the question as last searched and when
it was asked are kept, in memory, for the most recent conversations; after
WINDOW_SECONDS a conversation starts afresh.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable

from retrieval.followup import WINDOW_SECONDS


class Conversations:
    """Conversation key -> (previous question as searched, when it was asked); bounded, thread-safe."""

    MEMORY = 10_000

    def __init__(self, window: float = WINDOW_SECONDS, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self._last: OrderedDict[Hashable, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, key: Hashable | None) -> str | None:
        """The conversation's previous question, if it was asked within the window."""
        if key is None:
            return None
        with self._lock:
            last = self._last.get(key)
        if last is None or self.clock() - last[1] > self.window:
            return None
        return last[0]

    def remember(self, key: Hashable | None, searched: str) -> None:
        """Note the question a conversation's latest message was answered as."""
        if key is None or not searched:
            return
        with self._lock:
            self._last[key] = (searched, self.clock())
            self._last.move_to_end(key)
            while len(self._last) > self.MEMORY:
                self._last.popitem(last=False)
