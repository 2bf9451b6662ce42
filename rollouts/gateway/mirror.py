"""RequestMirror: fire-and-forget copies of requests, sampled by percent/fraction.

Why this exists: mirroring must never slow down or fail the real request. Copies go
out on their own short-lived connections after the original request has been read,
their responses are read only to count their status, and bodies above a cap are not
mirrored (the copy is skipped rather than buffering without bound).
"""

from __future__ import annotations

import asyncio
import random

from rollouts.gateway.http1 import Request
from rollouts.gateway.table import BackendTarget, Mirror

__all__ = ["Mirrorer"]


class Mirrorer:
    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int = 1 << 20,
                 timeout: float = 5.0, rng: random.Random | None = None) -> None:  # fmt: skip
        self.loop = loop
        self.max_body = max_body
        self.timeout = timeout
        self.rng = rng or random.Random()
        self.tasks: set[asyncio.Task[None]] = set()

    def plan(self, mirrors: tuple[Mirror, ...], head: bytes, r: Request) -> None:
        """Decide which mirrors this request goes to (sampling happens once, up front)."""
        picks = [m.target for m in mirrors
                 if self.rng.random() * m.denominator < m.numerator]  # fmt: skip
        r.mirror = (picks, head) if picks else None

    def fire(self, r: Request) -> None:
        if r.mirror is None:
            return
        targets, head = r.mirror
        r.mirror = None
        body = b"".join(r.body)
        if len(body) > self.max_body:
            return
        if r.chunked:
            body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        for t in targets:
            task = self.loop.create_task(self._send(t, head, body, self.loop.time()))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _send(self, t: BackendTarget, head: bytes, body: bytes, t0: float) -> None:
        status = 502
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*t.ring.pick()), self.timeout
            )
            writer.write(head + body)
            line = await asyncio.wait_for(reader.readline(), self.timeout)
            parts = line.split()
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 502
        except (TimeoutError, OSError, ValueError):
            pass
        finally:
            if writer is not None:
                writer.close()
        now = self.loop.time()
        t.stats.record(status, now - t0, now)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
