"""The memory behind the "more" button: which question an answer was for, and what it quoted.

Kept in memory (bounded) from the moment an answer is sent; after a restart, or
for an answer another instance sent, it is read back from the conversation log.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from convlog import ConversationLog, ExchangeBrief


class RecentAnswers:
    """Recent answers by exchange id: memory first, then the log."""

    MEMORY = 10_000

    def __init__(self, log: ConversationLog | None):
        self.log = log
        self._recent: OrderedDict[str, ExchangeBrief] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, exchange_id: str, recent: ExchangeBrief) -> None:
        """Keep an answer for its "more" button (the oldest are forgotten past MEMORY)."""
        with self._lock:
            self._recent[exchange_id] = recent
            self._recent.move_to_end(exchange_id)
            while len(self._recent) > self.MEMORY:
                self._recent.popitem(last=False)

    def recall(self, exchange_id: str) -> ExchangeBrief | None:
        """A recent answer, from memory or (after a restart, or another instance) from the log."""
        with self._lock:
            if exchange_id in self._recent:
                return self._recent[exchange_id]
        return self.log.recall(exchange_id) if self.log is not None else None
