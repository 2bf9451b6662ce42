"""Clocks the run engine is given: the real one, and a virtual one for tests.

Why this exists: anything that waits takes its clock as a parameter, so a run with
``interval: 5m`` and ``count: 10`` can be tested in milliseconds. ``VirtualClock``
jumps to the next sleeper's wake-up time whenever every task is waiting on it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

__all__ = ["Clock", "RealClock", "VirtualClock", "with_timeout"]

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall-clock time (UTC) and ``asyncio.sleep``."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class VirtualClock:
    """Time that only moves when every task is asleep on this clock.

    ``sleep`` registers a wake-up; a driver task lets the event loop run until nothing
    else is ready, then advances ``now`` to the earliest wake-up and wakes its sleepers.
    Only for work that does no real I/O (fake providers).
    """

    def __init__(self, start: datetime | None = None, idle_spins: int = 50) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        self._idle_spins = idle_spins

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (wakes nothing until the driver runs)."""
        self._now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        wake = self._now + timedelta(seconds=max(seconds, 0.0))
        heapq.heappush(self._sleepers, (wake, next(self._seq), future))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await future

    async def _drive(self) -> None:
        while self._sleepers:
            for _ in range(self._idle_spins):
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                return
            wake = self._sleepers[0][0]
            self._now = max(self._now, wake)
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)


async def with_timeout(clock: Clock, awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable``'s result, or ``TimeoutError`` after ``seconds`` on ``clock``."""
    work = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        done, _ = await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        timer.cancel()
        raise
    if work in done:
        timer.cancel()
        return work.result()
    work.cancel()
    raise TimeoutError(f"no answer within {seconds:g}s")
