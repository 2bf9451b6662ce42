"""One asyncio task per object, woken by watch events, sleeping until its requeue time.

kopf's daemons would do this but put a finalizer on every Rollout (a deleted Rollout
would then hang while the operator is down); plain event handlers feeding these loops
need none. A loop's work is a coroutine returning when to look again; its errors are
logged and retried, and never stop another object's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["IDLE_SECONDS", "Loops"]

IDLE_SECONDS = 300.0
"""Look again at least this often even when nothing happens (a safety net)."""

Key = tuple[str, str]
Work = Callable[[str, str], Awaitable[float | None]]

log = logging.getLogger(__name__)


class Loops:
    def __init__(self, work: Work, *, error_retry: float = 5.0) -> None:
        self._work = work
        self._error_retry = error_retry
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._wakeups: dict[Key, asyncio.Event] = {}

    def wake(self, namespace: str, name: str) -> None:
        """Run the object's work soon (starting its loop if it has none)."""
        key = (namespace, name)
        event = self._wakeups.setdefault(key, asyncio.Event())
        event.set()
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.create_task(self._loop(key, event),
                                                   name=f"loop {namespace}/{name}")

    def stop(self, namespace: str, name: str) -> None:
        task = self._tasks.pop((namespace, name), None)
        self._wakeups.pop((namespace, name), None)
        if task is not None:
            task.cancel()

    def keys(self) -> list[Key]:
        return list(self._tasks)

    async def _loop(self, key: Key, event: asyncio.Event) -> None:
        while True:
            event.clear()
            try:
                requeue = await self._work(*key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciling %s/%s failed; retrying in %ss", *key,
                              self._error_retry)
                requeue = self._error_retry
            delay = IDLE_SECONDS if requeue is None else max(requeue, 0.0)
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=delay)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
