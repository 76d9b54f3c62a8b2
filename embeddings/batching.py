"""Embed questions that arrive at the same time in one batch.

When many users ask at once, one batch of n short questions costs far less than
n separate model runs (the per-run overhead dominates for short inputs, and two
cores cannot run two models faster than one). There is no timer and no waiting
for a batch to fill: a question asked when the model is idle is embedded at once,
alone; questions that arrive while it is busy queue up and go together in the
next batch. Whoever's question heads the queue runs that batch, so no extra
thread is needed. When a batch fails, each of its questions is embedded alone, so an
error reaches only the caller whose text caused it.

The last few vectors are kept by text, so a question embedded for search costs
nothing when the red-flag meaning layer asks for it next (retrieval/redflag_meaning.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from embeddings.base import Encoder, encode_queries


class _Request:
    __slots__ = ("text", "vector", "error", "wake", "done")

    def __init__(self, text: str):
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.wake = threading.Event()  # finished, or asked to run the next batch
        self.done = False


class QueryBatcher:
    """Thread-safe `encode_one(question)` over an encoder, batching concurrent calls."""

    def __init__(self, encoder: Encoder, *, max_batch: int = 64, batch_size: int = 16):
        self.encoder = encoder
        self.max_batch = max_batch
        self.batch_size = batch_size  # the encoder sorts by length and pads per batch of this size
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._busy = False  # invariant: when False, the queue is empty
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self.batches = 0  # counters, for tests and the benchmark
        self.largest = 0

    RECENT = 64  # vectors kept by text

    def encode_one(self, text: str) -> np.ndarray:
        with self._lock:
            known = self._recent.get(text)
            if known is not None:
                self._recent.move_to_end(text)
                return known
        request = _Request(text)
        with self._lock:
            self._queue.append(request)
            lead = not self._busy
            self._busy = True
        if not lead:
            request.wake.wait()
        if not request.done:  # idle model, or handed the lead: this request heads the queue
            self._run_batch()
        if request.error is not None:
            raise request.error
        with self._lock:
            self._recent[text] = request.vector
            while len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
        return request.vector

    def _encode_alone(self, request: _Request) -> None:
        """After a failed batch: embed one request by itself, its error its own."""
        try:
            request.vector = encode_queries(self.encoder, [request.text], batch_size=1)[0]
        except Exception as exc:  # noqa: BLE001 - handed to this caller only
            request.error = exc

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        try:
            vectors = encode_queries(self.encoder, [r.text for r in batch], batch_size=self.batch_size)
        except Exception:  # noqa: BLE001 - one bad text must not fail the others: each alone
            for r in batch:
                self._encode_alone(r)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller in the batch
            for r in batch:
                r.error = exc
        else:
            for r, v in zip(batch, vectors):
                r.vector = v
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        with self._lock:
            if self._queue:
                self._queue[0].wake.set()  # the next batch is run by its first caller
            else:
                self._busy = False
        for r in batch:
            r.done = True
            r.wake.set()
