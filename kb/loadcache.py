"""A small least-recently-used cache of things that are expensive to load, shared by a whole process.

Index versions never change once written, so anything loaded from one (a full segment, a loaded
index, a version's document table) can be kept by its version directory and handed to every reader.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LoadCache(Generic[V]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value, or ``load()`` kept under ``key``; the lock is not held while loading."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def forget_where(self, match: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key matches (a version that was discarded)."""
        with self._lock:
            for key in [k for k in self._items if match(k)]:
                del self._items[key]
