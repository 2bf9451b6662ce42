"""Smooth weighted round robin over a rule's backends, round robin over endpoints.

Why this exists: the operator's promise is that the split equals the weights it
writes. Random choice only gets close on average; smooth weighted round robin (the
nginx algorithm) gives, over any window of N picks, each backend a share within one
pick of its weighted share, and interleaves picks instead of bursting them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

__all__ = ["EndpointRing", "SmoothWeighted"]

T = TypeVar("T")


class SmoothWeighted(Generic[T]):
    """nginx-style smooth weighted round robin; items with weight 0 never picked."""

    __slots__ = ("_current", "_items", "_total", "_weights")

    def __init__(self, items: Sequence[tuple[T, int]]):
        pairs = [(item, w) for item, w in items if w > 0]
        self._items: list[T] = [p[0] for p in pairs]
        self._weights: list[int] = [p[1] for p in pairs]
        self._total = sum(self._weights)
        self._current: list[int] = [0] * len(pairs)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def total(self) -> int:
        return self._total

    def pick(self) -> T | None:
        items = self._items
        n = len(items)
        if n == 0:
            return None
        if n == 1:
            return items[0]
        cur = self._current
        w = self._weights
        best = 0
        best_v = cur[0] + w[0]
        cur[0] = best_v
        for i in range(1, n):
            v = cur[i] + w[i]
            cur[i] = v
            if v > best_v:
                best, best_v = i, v
        cur[best] = best_v - self._total
        return items[best]


class EndpointRing:
    """Plain round robin over a backend's ready endpoints."""

    __slots__ = ("_i", "endpoints")

    def __init__(self, endpoints: Sequence[tuple[str, int]]):
        self.endpoints: tuple[tuple[str, int], ...] = tuple(endpoints)
        self._i = 0

    def __len__(self) -> int:
        return len(self.endpoints)

    def pick(self) -> tuple[str, int]:
        eps = self.endpoints
        if len(eps) == 1:
            return eps[0]
        self._i = (self._i + 1) % len(eps)
        return eps[self._i]
