"""The response half of a client connection: relaying what the upstream answers.

Why this exists: ``ClientConn`` is split in two so each half stays readable. This mixin
receives the upstream's events (head, body, end, loss, upgrade, flow control) and turns
them into bytes for the client: hop-by-hop headers dropped, response filters applied,
re-chunked when the upstream gave no length, head and body sent in one write per
upstream read, the upstream paused when the client cannot keep up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rollouts.gateway.http1 import (
    IDEMPOTENT,
    STATUS_LINES,
    Request,
    raw_pairs,
    split_header_line,
)
from rollouts.gateway.table import Action, BackendTarget
from rollouts.gateway.upstream import AnyUpstream

__all__ = ["ResponseRelay"]


class ResponseRelay:
    """Upstream events -> client bytes. Mixed into ``ClientConn``."""

    # state owned by ClientConn (declared here for the type checker)
    transport: asyncio.Transport | None
    send: Callable[[bytes], object]  # the transport's write
    active: Request | None
    action: Action | None
    target: BackendTarget | None
    up: AnyUpstream | None
    trailers: list[bytes]
    out: list[bytes]
    status: int
    resp_started: bool
    resp_done: bool
    chunk_out: bool
    tunnel: bool
    early: bytes
    up_backpressure: bool

    def _local(self, status: int, body: bytes,
               extra: list[tuple[bytes, bytes]] | None = None) -> None:  # fmt: skip
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _dispatch(self, t: BackendTarget, retry: bool) -> None:
        raise NotImplementedError

    def _update_reading(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def up_head(self, conn: AnyUpstream, status: int, lines: list[bytes], has_len: bool,
                upgrade: bytes | None) -> None:  # fmt: skip
        """``lines``: the end-to-end response header lines, already formatted."""
        r = self.active
        if r is None or self.transport is None:
            return
        if 100 <= status < 200 and status != 101:
            self.out.append((STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status) + b"\r\n")
            return
        self.status = status
        self.resp_started = True
        a, t = self.action, self.target
        if (t is not None and t.resp_mods is not None) or (a is not None and a.resp_mods):
            out = [split_header_line(line) for line in lines]
            if t is not None and t.resp_mods is not None:
                out = t.resp_mods.apply(out)
            if a is not None and a.resp_mods is not None:
                out = a.resp_mods.apply(out)
            lines = [n + b": " + v + b"\r\n" for n, v in out]
        if status == 101:
            lines.append(b"Connection: Upgrade\r\nUpgrade: " + (upgrade or b"") + b"\r\n")
        elif not has_len and r.method != b"HEAD" and status != 204 and status != 304:
            if r.http10:
                r.keep_alive = False  # HTTP/1.0 has no chunked encoding: close-delimit
            else:
                self.chunk_out = True
                lines.append(b"Transfer-Encoding: chunked\r\n")
        if not r.keep_alive and status != 101:
            lines.append(b"Connection: close\r\n")
        elif r.http10 and status != 101:  # an HTTP/1.0 client keeps only what it is told to
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        # held back so that head and body leave in one write (see up_flush)
        line = STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status
        self.out.append(line + b"".join(lines))

    def up_quick(self, conn: AnyUpstream, status: int, data: bytes, head_end: int) -> None:
        """A whole final response framed by Content-Length (or its first part), as
        received from an HTTP/1.1 upstream minus its hop-by-hop lines; ``head_end`` is
        where the blank line's CRLF CRLF starts. Written as is when nothing changes."""
        a, t = self.action, self.target
        if (t is not None and t.resp_mods is not None) or (a is not None and a.resp_mods):
            block = data[data.find(b"\r\n") : head_end]
            self.up_head(conn, status, [n + b": " + v + b"\r\n" for n, v in raw_pairs(block)],
                         True, None)  # fmt: skip
            self.up_body(data[head_end + 4 :])
            return self.up_flush()
        r = self.active
        if r is None or self.transport is None:
            return
        self.status = status
        self.resp_started = True
        if not r.keep_alive:
            data = data[: head_end + 2] + b"Connection: close\r\n" + data[head_end + 2 :]
        elif r.http10:  # an HTTP/1.0 client keeps the connection only when told to
            data = data[: head_end + 2] + b"Connection: keep-alive\r\n" + data[head_end + 2 :]
        if self.out:  # something held back (cannot happen today; never reorder it)
            self.out.append(data)
            return self.up_flush()
        self.send(data)

    def up_body(self, data: bytes) -> None:
        if data:
            self.out.append(b"%x\r\n%s\r\n" % (len(data), data) if self.chunk_out else data)

    def up_flush(self) -> None:
        """End of one upstream read: send what it produced in a single write."""
        out = self.out
        if out:
            if self.transport is not None:
                self.send(out[0] if len(out) == 1 else b"".join(out))
            self.out = []

    def up_trailers(self, lines: list[bytes]) -> None:
        """Trailers (gRPC status) from an HTTP/2 upstream: sent after the last chunk."""
        self.trailers = [line for line in lines if not line.startswith(b":")]

    def up_done(self, conn: AnyUpstream) -> None:
        r = self.active
        if self.chunk_out:
            self.out.append(b"0\r\n" + b"".join(self.trailers) + b"\r\n")
        if self.trailers:
            self.trailers = []
        self.up_flush()
        self.up = None
        conn.release(r is not None and r.complete and conn.keep_alive())
        self.resp_done = True
        if r is not None and r.complete:
            self._finish()

    def up_lost(self, conn: AnyUpstream, exc: Exception | None) -> None:
        self.up_flush()
        r = self.active
        if self.up is not conn or r is None:
            return
        self.up = None
        if not self.resp_started:
            if not conn.started and conn.reused and r.method in IDEMPOTENT and not r.has_body:
                # a pooled connection that died while idle: retry once on a fresh one
                assert self.target is not None
                return self._dispatch(self.target, retry=False)
            return self._local(502, b"")  # lost, or answered with something not HTTP
        self.close()  # mid-response: the client sees the connection end

    def up_upgraded(self, conn: AnyUpstream, rest: bytes) -> None:
        self.up_flush()
        if self.transport is not None:
            self.tunnel = True
            if rest:
                self.transport.write(rest)
            if self.early:
                conn.write(self.early)
                self.early = b""

    def up_raw(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def up_pause(self) -> None:
        self.up_backpressure = True
        self._update_reading()

    def up_resume(self) -> None:
        self.up_backpressure = False
        self._update_reading()
