"""The virtual clock and timeouts on it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rollouts.analysis.clock import RealClock, VirtualClock, with_timeout


async def test_virtual_clock_jumps_to_the_next_wake_up():
    clock = VirtualClock()
    start = clock.now()
    order: list[tuple[str, timedelta]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        order.append((name, clock.now() - start))
    await asyncio.gather(sleeper("late", 3600), sleeper("early", 60))
    assert order == [("early", timedelta(seconds=60)), ("late", timedelta(hours=1))]


async def test_timeout_on_the_virtual_clock():
    clock = VirtualClock()

    async def slow() -> int:
        await clock.sleep(100)
        return 1

    with pytest.raises(TimeoutError):
        await with_timeout(clock, slow(), 10)
    assert await with_timeout(clock, slow(), 1000) == 1


async def test_real_clock_is_aware_utc():
    clock = RealClock()
    assert clock.now().tzinfo is not None
    await clock.sleep(-1)
