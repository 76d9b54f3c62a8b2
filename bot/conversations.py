"""What each conversation asked last, so that a follow-up is understood (retrieval/followup.py).

A conversation is whatever the channel says it is: the terminal session, a Telegram
private chat, one user within a group. Only its latest question (as searched), the
question's language, the passages quoted for it (so that a typed "还有呢" / "more?"
goes on where the answer stopped) and when it was last active are kept, in memory,
for the most recent conversations; after WINDOW_SECONDS a conversation starts afresh.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace

from retrieval.followup import WINDOW_SECONDS
from retrieval.safety import Assessment


@dataclass(frozen=True)
class Turn:
    """A conversation's latest question: as searched, its language, the chunks quoted in the
    conversation so far (which "more" skips), and what the red flags found in it (a typed
    "more" after an emergency repeats the notice)."""

    searched: str
    lang: str
    shown: tuple[str, ...]
    at: float
    safety: Assessment | None = None
    seen: tuple[str, ...] = ()  # the answering sentences quoted so far (a follow-up does not repeat them)


class Conversations:
    """Conversation key -> its latest `Turn`; bounded, thread-safe."""

    MEMORY = 10_000
    SEEN = 20  # answering sentences remembered per conversation (the latest)

    def __init__(self, window: float = WINDOW_SECONDS, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self._last: OrderedDict[Hashable, Turn] = OrderedDict()
        self._lock = threading.Lock()

    def last(self, key: Hashable | None) -> Turn | None:
        """The conversation's latest question, if the conversation was active within the window."""
        if key is None:
            return None
        with self._lock:
            turn = self._last.get(key)
        if turn is None or self.clock() - turn.at > self.window:
            return None
        return turn

    def context(self, key: Hashable | None) -> str | None:
        """The conversation's previous question (as searched), if it was asked within the window."""
        turn = self.last(key)
        return turn.searched if turn else None

    def remember(self, key: Hashable | None, searched: str, lang: str = "", shown: Iterable[str] = (),
                 safety: Assessment | None = None, seen: Iterable[str] = ()) -> None:  # fmt: skip
        """Note the question a conversation's latest message was answered as, what the red flags
        found, and the passages quoted for it and their answering sentences (`seen`), each added
        to those the conversation quoted before."""
        if key is None or not searched:
            return
        earlier = self.last(key)
        self._put(key, Turn(searched, lang, _union(earlier.shown if earlier else (), shown), self.clock(), safety,
                            _union(earlier.seen if earlier else (), seen)[-self.SEEN:]))  # fmt: skip

    def quoted_more(self, key: Hashable | None, shown: Iterable[str], seen: Iterable[str] = ()) -> None:
        """Note further passages quoted for the conversation's latest question ("more")."""
        turn = self.last(key)
        if turn is not None:
            self._put(key, replace(turn, shown=_union(turn.shown, shown), at=self.clock(), seen=_union(turn.seen, seen)[-self.SEEN:]))

    def _put(self, key: Hashable, turn: Turn) -> None:
        with self._lock:
            self._last[key] = turn
            self._last.move_to_end(key)
            while len(self._last) > self.MEMORY:
                self._last.popitem(last=False)


def _union(earlier: tuple[str, ...], shown: Iterable[str]) -> tuple[str, ...]:
    """The chunk ids quoted so far, in order, each once."""
    return tuple(dict.fromkeys((*earlier, *shown)))
