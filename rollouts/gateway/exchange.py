"""One exchange of a client connection: route, pick, forward, time out, answer, finish.

Why this exists: ``ClientConn`` (``proxy``) reads and parses; this is what happens to a
parsed request, from the routing table lookup to the last byte of the answer and the
next pipelined request. It is a base class of ``ClientConn`` rather than a separate
object so that the hot path stays one native object (mypyc compiles both), and split
out so that each module stays readable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rollouts.gateway.http1 import (
    Request,
    absolute_target,
    simple_response,
    upstream_head,
)
from rollouts.gateway.relay import ResponseRelay
from rollouts.gateway.state import ProxyState
from rollouts.gateway.table import (
    BackendTarget,
    ListenerTable,
    Match,
    PortTable,
    QueryParams,
    RoutingTable,
)
from rollouts.gateway.upstream import AnyUpstream

__all__ = ["Exchange"]


class Exchange(ResponseRelay):
    """The per-request half of ``ClientConn``; see the module docstring."""

    # state owned by ClientConn (declared here for the type checker and mypyc)
    state: ProxyState
    port: int
    scheme: bytes
    peer: bytes
    closed: bool
    queue: list[Request]
    paused: bool
    deadline: float
    idle_timeout: float
    response_timeout: float
    pending: list[bytes] | None
    pending_size: int
    head: bytes
    t0: float
    timer: asyncio.TimerHandle | None
    clock: Callable[[], float]  # the loop's clock
    # the last request's Host, and what it resolved to in which table
    seen_host: bytes
    seen_table: RoutingTable | None
    host: str
    listener: ListenerTable | None

    def _reset_exchange(self) -> None:
        raise NotImplementedError

    def _start(self, r: Request) -> None:
        self.t0 = loop_time = self.clock()
        # the sweeper answers 504 when no response has started by then
        self.deadline = loop_time + self.response_timeout
        url = r.url
        q = url.find(b"?")  # (not ``in``: for bytes it first fails to take "?" as an int)
        raw_path, query = (url[:q], url[q + 1 :]) if q >= 0 else (url, b"")
        if not raw_path or raw_path[0] != 47:  # not "/...": absolute form, or "*"
            raw_path, query = absolute_target(raw_path, query, r)
        table = self.state.table
        if r.host == self.seen_host and table is self.seen_table:
            host, lt = self.host, self.listener  # a connection's requests share a Host
        else:
            host = r.host.decode("latin-1")
            colon = host.rfind(":")
            if colon >= 0 and "]" not in host[colon:]:
                host = host[:colon]
            host = host.lower().rstrip(".")
            pt: PortTable | None = table.ports.get(self.port)
            lt = pt.listener_for(host) if pt is not None else None
            self.seen_host, self.seen_table, self.host, self.listener = r.host, table, host, lt
        path = raw_path.decode("latin-1")
        qs = query.decode("latin-1") if query else None
        params = QueryParams(qs) if qs is not None else None
        m: Match | None = lt.find(host, path, r.method, r.hdict, params) if lt is not None else None
        if m is None:
            return self._local(404, b"")
        a = self.action = m.action
        if a.redirect is not None:
            loc = a.redirect.location(self.scheme.decode(), host, self.port, path, qs, m.prefix)
            return self._local(a.redirect.status, b"", [(b"location", loc.encode())])
        if a.fixed_status:
            return self._local(a.fixed_status, b"")
        t = a.backends.pick()
        assert t is not None
        self.target = t
        if t.status:
            return self._local(t.status, b"")
        self.head = upstream_head(r, a, t, m, raw_path, query, path, self.peer, self.scheme)
        if a.mirrors and self.state.mirrorer is not None:
            self.state.mirrorer.plan(a.mirrors, self.head, r)
        if a.timeout is not None:
            self.timer = self.state.pool.loop.call_at(loop_time + a.timeout, self._timeout)
        self._dispatch(t, retry=True)

    def _dispatch(self, t: BackendTarget, retry: bool) -> None:
        ep = t.ring.pick()
        if t.h2 and self.state.h2pool is not None:
            h2c = self.state.h2pool.get(ep)
            up: AnyUpstream | None = h2c.stream() if h2c is not None else None
        else:
            up = self.state.pool.get(ep) if retry else None
        if up is not None:
            self._attach(up)
        else:
            self.pending = []
            task = self.state.pool.loop.create_task(self._connect(t, ep))
            self.state.tasks.add(task)
            task.add_done_callback(self.state.tasks.discard)

    def _attach(self, up: AnyUpstream) -> None:
        r = self.active
        assert r is not None
        self.up = up
        up.begin(self, r.method == b"HEAD")
        up.write(self.head)
        if self.early:
            up.write(self.early)
            self.early = b""

    async def _connect(self, t: BackendTarget, ep: tuple[str, int]) -> None:
        try:
            up: AnyUpstream
            if t.h2 and self.state.h2pool is not None:
                up = (await self.state.h2pool.connect(ep)).stream()
            else:
                up = await self.state.pool.connect(ep)
        except (TimeoutError, OSError):
            self.state.registry.connect_error(t.label)
            if not self.closed and self.active is not None and not self.resp_started:
                self._local(503, b"")
            return
        if self.closed or self.active is None or self.resp_started:
            up.close()
            return
        pending, self.pending, self.pending_size = self.pending, None, 0
        self._attach(up)
        r = self.active
        for chunk in pending or ():
            up.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if r.chunked else chunk)
        if r.complete and r.chunked:
            up.write(b"0\r\n\r\n")
        self._update_reading()

    def _request_done(self, r: Request) -> None:
        if self.up is not None and self.pending is None and r.chunked:
            self.up.write(b"0\r\n\r\n")
        if self.action is not None and self.action.mirrors and self.state.mirrorer is not None:
            self.state.mirrorer.fire(r)
        if self.resp_done:
            self._finish()

    def _timeout(self) -> None:
        self.timer = None
        if self.up is not None:
            up, self.up = self.up, None
            up.sink = None
            up.close()
        if not self.resp_started:
            self._local(504, b"")
        else:
            self.close()

    # ---------------------------------------------------------------- answers
    def _local(self, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
               ) -> None:  # fmt: skip
        r = self.active
        self.status = status
        self.resp_started = self.resp_done = True
        self.pending, self.pending_size = None, 0
        self._write_simple(status, body, close=r is None or not r.keep_alive or r.upgrade,
                           extra=extra)  # fmt: skip
        if r is not None and r.upgrade:
            self.tunnel = False
            self._finish()
            self.close()
        elif r is None or r.complete:
            self._finish()

    def _write_simple(self, status: int, body: bytes, close: bool,
                      extra: list[tuple[bytes, bytes]] | None = None) -> None:  # fmt: skip
        if self.transport is not None and not self.closed:
            self.transport.write(simple_response(status, body, close, extra))

    def _finish(self) -> None:
        r = self.active
        if r is None:
            return
        now = self.clock()
        if self.timer is not None:
            self.timer.cancel()
        t, a = self.target, self.action
        stats = t.stats if t is not None else (a.none_stats if a is not None else None)
        if stats is not None:
            stats.record(self.status, now - self.t0, now + self.state.wall_offset)
        if self.up is not None:
            up, self.up = self.up, None
            up.sink = None
            up.close()
        self.active = None
        self._reset_exchange()
        self.up_backpressure = False  # that upstream is gone
        self.deadline = now + self.idle_timeout
        if not r.keep_alive or r.upgrade:
            self.close()
            return
        if self.queue:
            nxt = self.queue.pop(0)
            self.active = nxt
            self._update_reading()
            self._start(nxt)
            if nxt.body and self.still_active(nxt):
                self._forward_queued_body(nxt)
            if nxt.complete and self.still_active(nxt):
                self._request_done(nxt)
        elif self.paused:
            self._update_reading()

    def still_active(self, r: Request) -> bool:
        """Whether ``r`` is still the exchange in progress. Read afresh through a call:
        what ``_start`` and friends did to ``self.active`` is invisible to the type
        checker's narrowing, which mypyc turns into runtime checks."""
        return self.active is r

    def _forward_queued_body(self, r: Request) -> None:
        """Body bytes a pipelined request received while it waited in the queue."""
        if self.pending is not None:
            self.pending.extend(r.body)
        elif self.up is not None:
            for chunk in r.body:
                self.up.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if r.chunked else chunk)
