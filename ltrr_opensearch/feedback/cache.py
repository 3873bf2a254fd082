"""What a consumer has read from the logs per key, kept between its runs in one process.

A consumer's output for a key (a request, a query/entity pair) is a function of every log
doc of that key. Reading them all again whenever a key is touched made the work per event
grow with the key's history. A consumer instead keeps, per key, what it needs from those
docs and folds each new doc in. The logs stay the only truth: for a key that is not held,
the docs up to the checkpoint are read from the log (one bulk read for all such keys of a
batch) and the batch's own docs folded on top; a fresh process starts empty.

A cache that started with nothing applied yet (no checkpoint) and never let a key go holds
every key that has docs up to the checkpoint (:attr:`KeyCache.complete`): a key it does not
hold has none, and nothing needs reading.

The cache is valid only while the consumer's checkpoints are the ones this process last
loaded or saved: if another worker moved them, this process has not seen the docs in
between, so everything is forgotten (:meth:`KeyCache.follow`). A crash between a batch's
writes and its checkpoint leaves a cache that already holds the batch; applying the batch
again is harmless because folding is idempotent (sets, or maps keyed by doc key).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class KeyCache(Generic[V]):
    """A bounded map from key to the consumer's folded state of that key, least recently
    used first out."""

    def __init__(self, max_keys: int) -> None:
        if max_keys < 0:
            raise ValueError(f"max_keys must be >= 0, got {max_keys}")
        self.max_keys = max_keys
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.RLock()  # a consumer may apply key partitions side by side
        self._positions: dict[str, Any] = {}
        self._version: Any = None
        # Every key with docs up to the checkpoints is held: true from a start with nothing
        # applied until the first key is let go.
        self.complete = False

    def __len__(self) -> int:
        return len(self._entries)

    def follow(self, positions: Mapping[str, Any], version: Any = None) -> bool:
        """Start of a run from ``positions`` (log name -> checkpoint ``(after, processed)``
        as loaded). Returns whether the cache was kept; it is cleared unless the
        checkpoints are the ones this process saw last and ``version`` (anything else the
        held state depends on) is the one it was given last."""
        kept = dict(positions) == self._positions and version == self._version
        if not kept:
            self._entries.clear()
            self._positions, self._version = dict(positions), version
            self.complete = self.max_keys > 0 and all(
                after is None for after, _ in positions.values())
        return kept

    def saved(self, log: str, position: Any) -> None:
        """This process moved ``log``'s checkpoint to ``position``."""
        self._positions[log] = position

    def position(self, log: str) -> Any:
        """``log``'s checkpoint as this process knows it: the held state covers exactly
        the docs up to it (a batch being applied is folded in on top)."""
        return self._positions.get(log)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put_if_absent(self, key: Hashable, value: V) -> None:
        with self._lock:
            if key not in self._entries:
                self.put(key, value)

    def put(self, key: Hashable, value: V) -> None:
        if self.max_keys == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
                self.complete = False
