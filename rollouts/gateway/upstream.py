"""Upstream HTTP/1.1 connections and the keep-alive pool.

Why this exists: opening a TCP connection per request would halve throughput and
exhaust ports. Each endpoint keeps a LIFO stack of idle keep-alive connections; a
connection that dies while idle removes itself. Response bytes are handed to the
client side as they are parsed (no buffering of bodies), and flow control is passed
through: when the client cannot take more, the upstream socket stops being read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol, cast

import httptools

from rollouts.gateway.headlines import find_named_lines, header_digits, name_table, without

if TYPE_CHECKING:  # the one sink there is; typed as such so that mypyc calls it natively
    from rollouts.gateway.relay import ResponseRelay

__all__ = [
    "RESP_HOP", "AnyUpstream", "IdleStack", "Pool", "Upstream", "UpstreamConn", "write_nowhere",
]

#: response headers never relayed to the client (hop-by-hop)
RESP_HOP: Final = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"trailer",
                       b"transfer-encoding", b"upgrade"))  # fmt: skip
#: response headers the quick path must look at (see ``UpstreamConn._quick``)
_QUICK_NAMES: Final = name_table((b"content-length", *RESP_HOP))
#: up to this size, a read is split whole at LF (body included) rather than searched
#: for its blank line first: cheaper for the small responses that dominate
_SPLIT_WHOLE: Final = 1024


def write_nowhere(data: bytes) -> None:
    """Where bytes go before a transport is attached: nowhere."""


class Upstream(Protocol):
    """One exchange's way to a backend: an HTTP/1.1 connection or an HTTP/2 stream."""

    sink: ResponseRelay | None
    closed: bool
    started: bool
    reused: bool
    paused: bool

    def begin(self, sink: ResponseRelay, head_only: bool) -> None: ...
    def write(self, data: bytes) -> None: ...
    def keep_alive(self) -> bool: ...
    def release(self, reusable: bool) -> None: ...
    def close(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


class UpstreamConn:
    """One connection to one endpoint; serves one exchange at a time. An asyncio protocol
    by duck typing (no base class, so that mypyc can compile it to a native class)."""

    __slots__ = (
        "closed", "framed", "has_len", "head_only", "interim", "key", "lines", "mid",
        "parser", "paused", "pool", "remaining", "reusable", "reused", "send", "sink",
        "stack", "started", "transport", "tunnel", "until_close", "upgrade",
    )  # fmt: skip

    def __init__(self, pool: Pool, key: tuple[str, int]) -> None:
        self.pool = pool
        self.key = key
        self.stack = pool.stack(key)  # where it waits when idle
        self.transport: asyncio.Transport | None = None
        self.send: Callable[[bytes], object] = write_nowhere
        self.parser = httptools.HttpResponseParser(self)
        self.sink: ResponseRelay | None = None
        self.lines: list[bytes] = []  # end-to-end header lines, formatted for the client
        self.has_len = False
        self.framed = False  # Transfer-Encoding seen
        self.until_close = False
        self.upgrade: bytes | None = None
        self.started = False  # any response byte seen for the current exchange
        self.reused = False
        self.closed = False
        self.head_only = False  # response to HEAD: no body follows whatever the headers say
        self.tunnel = False
        self.paused = False  # reading paused because the client cannot take more
        self.interim = False  # parsing a 1xx (other than 101) response
        self.mid = False  # the parser is inside a message
        self.remaining = 0  # body bytes still due on a quick-path response
        self.reusable = False  # the current response leaves the connection reusable

    # ---- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.send = self.transport.write  # looked up once, not per request

    def data_received(self, data: bytes) -> None:
        if self.tunnel:
            if self.sink is not None:
                self.sink.up_raw(data)
            return
        self.started = True
        sink = self.sink
        if self.remaining:
            self._quick_body(data)
            return
        if (
            not self.mid
            and sink is not None
            and data[:9] == b"HTTP/1.1 "
            and not self.head_only
            and self._quick(data, sink)
        ):
            return
        self.mid = True
        try:
            self.parser.feed_data(data)
            if self.sink is not None:
                self.sink.up_flush()
        except httptools.HttpParserUpgrade as exc:
            self.tunnel = True
            off = int(exc.args[0]) if exc.args else len(data)
            if self.sink is not None:
                self.sink.up_upgraded(self, data[off:])
        except httptools.HttpParserError as exc:
            self.close()
            if self.sink is not None:
                sink, self.sink = self.sink, None
                sink.up_lost(self, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.discard(self)
        if self.sink is not None:
            sink, self.sink = self.sink, None
            if self.until_close and exc is None:
                sink.up_done(self)  # a close-delimited body is complete
            else:
                sink.up_lost(self, exc)

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.up_pause()

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.up_resume()

    def _quick(self, data: bytes, sink: ResponseRelay) -> bool:
        """A final response whose whole head is in this read and whose body is framed
        by Content-Length: relayed as received minus its hop-by-hop lines, without
        httptools callbacks. Anything else returns False for the parser."""
        if len(data) < 17:
            return False
        d0, d1, d2, sep = data[9] - 48, data[10] - 48, data[11] - 48, data[12]
        if not (0 <= d0 <= 9 and 0 <= d1 <= 9 and 0 <= d2 <= 9) or (sep != 32 and sep != 13):
            return False
        status = d0 * 100 + d1 * 10 + d2
        if status < 200 or status == 204 or status == 304:
            return False
        lines: list[tuple[bytes, int, int]] = []
        if len(data) <= _SPLIT_WHOLE:  # one split finds the blank line too
            end = find_named_lines(data.split(b"\n"), _QUICK_NAMES, lines)
            if end < 0 or end + 4 > len(data):
                return False  # a bare LF, or the head is not complete in this read
        else:
            end = data.find(b"\r\n\r\n")
            if end < 0 or find_named_lines(data[: end + 1].split(b"\n"), _QUICK_NAMES,
                                           lines) != end:  # fmt: skip
                return False
        length = -1
        keep = True
        cuts: list[tuple[int, int]] = []  # hop-by-hop lines, with their leading CRLF
        for name, start, stop in lines:
            if name == b"content-length":
                if length >= 0:
                    return False
                length = header_digits(data, start + 17, stop)
                if length < 0:
                    return False
                continue
            if name == b"connection":
                value = data[start + 13 : stop]
                if value != b" keep-alive":  # the usual spelling first: two calls fewer
                    value = value.strip(b" \t").lower()
                    if value == b"close":
                        keep = False
                    elif value != b"keep-alive":
                        return False  # lists other headers, or upgrades
            elif name == b"transfer-encoding" or name == b"upgrade":
                return False
            cuts.append((start, stop))
        body_len = len(data) - end - 4
        if length < 0 or body_len > length:
            return False
        if cuts:
            end -= sum(stop - start for start, stop in cuts)
            data = without(data, 0, len(data), cuts)
        self.reusable = keep
        self.remaining = length - body_len
        sink.up_quick(self, status, data, end)
        if not self.remaining and self.sink is not None:
            sink.up_done(self)
        return True

    def _quick_body(self, data: bytes) -> None:
        sink = self.sink
        if len(data) > self.remaining:  # more than Content-Length said: stop reusing
            data = data[: self.remaining]
            self.reusable = False
        self.remaining -= len(data)
        if sink is not None:
            sink.up_body(data)
            if self.remaining:
                sink.up_flush()
            else:
                sink.up_done(self)

    # ---- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname not in RESP_HOP:
            self.lines.append(name + b": " + value + b"\r\n")
            if lname == b"content-length":
                self.has_len = True
        elif lname == b"upgrade":
            self.upgrade = value
        elif lname == b"transfer-encoding":
            self.framed = True

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        self.reusable = bool(self.parser.should_keep_alive())
        lines, self.lines = self.lines, []
        has_len, self.has_len = self.has_len, False
        upgrade, self.upgrade = self.upgrade, None
        self.interim = 100 <= status < 200 and status != 101
        # no Content-Length, not chunked: the body ends when the upstream closes
        self.until_close = not (has_len or self.framed or self.head_only or status < 200
                                or status in (204, 304))  # fmt: skip
        self.framed = False
        if status == 101:
            self.tunnel = True
        sink = self.sink
        if sink is None:
            return
        # the reason phrase is not relayed (HTTP/2 has none): no on_status callback
        sink.up_head(self, status, lines, has_len, upgrade)
        if self.head_only and status >= 200:
            # a HEAD response has no body even when Content-Length says otherwise;
            # the parser would wait for it, so this connection cannot be reused
            self.close()
            self.sink = None
            sink.up_done(self)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.up_body(body)

    def on_message_complete(self) -> None:
        self.mid = False
        if self.interim or self.tunnel:
            self.interim = False
            return
        if self.sink is not None:
            self.sink.up_done(self)

    # ---- used by the client side
    def begin(self, sink: ResponseRelay, head_only: bool) -> None:
        self.sink = sink
        self.started = False
        self.head_only = head_only

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.send(data)

    def keep_alive(self) -> bool:
        return self.reusable

    def release(self, reusable: bool) -> None:
        """The exchange is over: back to the pool, or closed."""
        self.sink = None
        if reusable and not self.closed and not self.tunnel:
            self.resume_reading()  # it may have been paused for a slow client
            self.reused = True
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed and self.paused:
            self.paused = False
            self.transport.resume_reading()


#: how the client side holds its upstream: naming the HTTP/1.1 class, the usual case,
#: lets mypyc call it natively (an HTTP/2 stream goes through the protocol)
AnyUpstream = UpstreamConn | Upstream


class IdleStack:
    """The idle connections to one endpoint, most recently used on top. A list that
    keeps its slots when emptied (taken slots hold None): a plain list would give its
    memory back each time the last connection is taken, and ask for it again when one
    comes back."""

    __slots__ = ("conns", "n")

    def __init__(self) -> None:
        self.conns: list[UpstreamConn | None] = []  # entries from n on are None
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def push(self, conn: UpstreamConn) -> None:
        if self.n < len(self.conns):
            self.conns[self.n] = conn
        else:
            self.conns.append(conn)
        self.n += 1

    def pop(self) -> UpstreamConn | None:
        """The most recently used open connection, or None."""
        while self.n:
            self.n -= 1
            conn = self.conns[self.n]
            self.conns[self.n] = None
            if conn is not None and not conn.closed:
                return conn
        return None

    def remove(self, conn: UpstreamConn) -> None:
        for i in range(self.n):
            if self.conns[i] is conn:
                del self.conns[i]
                self.n -= 1
                return

    def live(self) -> list[UpstreamConn]:
        return [conn for conn in self.conns[: self.n] if conn is not None]


class Pool:
    """Idle keep-alive connections per endpoint, most recently used first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_idle: int = 256,
                 connect_timeout: float = 5.0) -> None:  # fmt: skip
        self.loop = loop
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self.idle: dict[tuple[str, int], IdleStack] = {}

    def stack(self, key: tuple[str, int]) -> IdleStack:
        stack = self.idle.get(key)
        if stack is None:
            stack = self.idle[key] = IdleStack()
        return stack

    def get(self, key: tuple[str, int]) -> UpstreamConn | None:
        stack = self.idle.get(key)
        return stack.pop() if stack is not None else None

    def put(self, conn: UpstreamConn) -> None:
        if conn.stack.n >= self.max_idle:
            conn.close()
        else:
            conn.stack.push(conn)

    def discard(self, conn: UpstreamConn) -> None:
        conn.stack.remove(conn)

    async def connect(self, key: tuple[str, int]) -> UpstreamConn:
        _, proto = await asyncio.wait_for(
            self.loop.create_connection(
                lambda: cast(asyncio.Protocol, UpstreamConn(self, key)), key[0], key[1]
            ),
            self.connect_timeout,
        )
        return cast(UpstreamConn, proto)

    def close(self) -> None:
        for stack in self.idle.values():
            for conn in stack.live():
                conn.close()
        self.idle.clear()
