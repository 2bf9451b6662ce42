"""The client side of the HTTP/1.1 proxy: parse, route, filter, forward, count.

Why this exists: this is the hot path. One ``ClientConn`` per client connection,
driven by httptools callbacks, no coroutine per request: the routing table lookup,
the weighted pick and the upstream write all happen inside ``on_headers_complete``
(what happens to a parsed request lives in ``exchange``, the base class).
Bodies stream through in both directions with flow control; only pipelined requests
queue (and reading pauses while they do). A connection that opens with the HTTP/2
preface (or negotiates ``h2`` by ALPN) is handed to ``h2session`` instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, cast

import httptools

from rollouts.gateway.exchange import Exchange
from rollouts.gateway.http1 import (
    HOP,
    BadRequest,
    Limits,
    Request,
    quick_request,
)
from rollouts.gateway.state import ProxyState
from rollouts.gateway.upstream import write_nowhere

try:  # HTTP/2 is optional: it needs the pure-Python h2 library
    from rollouts.gateway.h2session import H2Session
except ImportError:  # pragma: no cover - h2 not installed
    H2Session = None  # type: ignore[assignment,misc]

__all__ = ["ClientConn", "Limits", "ProxyState"]  # Limits, ProxyState: re-exported

log = logging.getLogger(__name__)

#: first bytes of an HTTP/2 connection with prior knowledge (h2c)
_H2_START: Final = b"PRI * HTTP/2.0"


class _Checker:
    """httptools only validates what the quick path parsed (no per-header callbacks);
    the one callback confirms that the message ended where the quick path thinks."""

    def __init__(self) -> None:
        self.complete = False

    def on_message_complete(self) -> None:
        self.complete = True


class ClientConn(Exchange):
    """One client connection: an asyncio protocol by duck typing (no base class, so that
    mypyc can compile it to a native class). See the module docstring."""

    def __init__(self, state: ProxyState, port: int, scheme: bytes = b"http") -> None:
        # Attributes that ``Exchange`` and ``ResponseRelay`` declare are assigned here
        # without annotations: annotated again, mypyc lays them out twice and its GC
        # traverse visits them twice, after which the collector may clear live objects
        # (tests/gateway/test_compiled_gc.py).
        self.state = state
        self.clock = state.pool.loop.time
        self.idle_timeout = state.limits.idle_timeout
        self.max_header_bytes = state.limits.max_header_bytes
        self.max_headers = state.limits.max_headers
        self.response_timeout = state.limits.response_timeout
        self.port = port
        self.scheme = scheme
        self.parser = httptools.HttpRequestParser(self)
        self.check = _Checker()
        self.checker = httptools.HttpRequestParser(self.check)
        self.limits = state.limits
        self.mid = False  # the callback parser is inside a message
        self.h2c_ignored = False  # the request being parsed asked for h2c by Upgrade
        self.transport = None
        self.send = write_nowhere
        self.peer = b""
        self.parsing = Request()  # replaced at each message begin
        self.active = None
        self.queue = []
        self.deadline = 0.0
        self.closed = False
        self.paused = False
        self.up_backpressure = False
        self.out = []
        self.trailers = []
        self.h2: H2Session | None = None
        self.fresh = True  # nothing received yet: may be an HTTP/2 preface
        self.in_head = False  # between message begin and headers complete
        self.head_bytes = 0  # bytes of an unfinished head received in later reads
        self.seen_host = b""
        self.seen_table = None
        self.host = ""
        self.listener = None
        self._reset_exchange()

    def _reset_exchange(self) -> None:
        self.up = None
        self.pending = None  # body bytes waiting for a connection
        self.pending_size = 0
        self.head = b""
        self.target = None
        self.action = None
        self.t0 = 0.0
        self.status = 0
        self.resp_started = False
        self.resp_done = False
        self.chunk_out = False
        self.timer = None
        self.tunnel = False
        self.early = b""

    # ---------------------------------------------------------------- transport events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.send = self.transport.write  # looked up once, not per response
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]).encode() if peer else b""
        self.state.conns.add(self)
        self.state.registry.active_connections += 1
        self.deadline = self.state.pool.loop.time() + self.state.limits.idle_timeout
        ssl_obj = transport.get_extra_info("ssl_object")
        alpn = ssl_obj.selected_alpn_protocol() if ssl_obj is not None else None
        if alpn == "h2" and H2Session is not None:
            self.fresh = False
            self.h2 = H2Session(self, self.state, self.port, self.scheme)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.h2 is not None:
            self.h2.connection_lost()
        self.closed = True
        self.state.conns.discard(self)
        self.state.registry.active_connections -= 1
        if self.timer is not None:
            self.timer.cancel()
        up = self.up
        if up is not None:
            self.up = None
            up.sink = None
            up.close()

    def data_received(self, data: bytes) -> None:
        if (
            self.active is None
            and not self.mid
            and self.h2 is None
            and not self.tunnel
            and len(data) > 4
            and data[-1] == 10  # ends with CRLF CRLF (checked without slicing)
            and data[-2] == 13
            and data[-3] == 10
            and data[-4] == 13
            and self._quick(data)
        ):
            return
        if self.fresh:
            self.fresh = False
            if data[:14] == _H2_START and H2Session is not None and self.transport is not None:
                self.h2 = H2Session(self, self.state, self.port, self.scheme)
        if self.h2 is not None:
            try:
                self.h2.data_received(data)
            except Exception:  # a bug in one HTTP/2 session must not take the worker down
                log.exception("HTTP/2 session failed; closing the connection")
                self.close()
            return
        if self.tunnel:
            if self.up is not None:
                self.up.write(data)
            else:
                self.early += data
            return
        was_in_head = self.in_head
        try:
            self.parser.feed_data(data)
            if was_in_head and self.in_head:
                # httptools buffers an unfinished header itself: bound the head here
                self.head_bytes += len(data)
                if self.head_bytes > self.max_header_bytes:
                    self._fail(431)
        except httptools.HttpParserUpgrade as exc:
            off = int(exc.args[0]) if exc.args else len(data)
            if self.h2c_ignored:  # not an upgrade after all: go on parsing HTTP/1.1
                self.h2c_ignored = False
                if off < len(data):
                    self.data_received(data[off:])
                return
            self.early += data[off:]
            self.tunnel = True
        except httptools.HttpParserError as exc:
            # exceptions raised in callbacks arrive wrapped; the original is the context
            ctx = exc.__context__
            self._fail(ctx.status if isinstance(ctx, BadRequest) else 400)

    def _quick(self, data: bytes) -> bool:
        """One whole bodiless request head in one read (the usual case): parsed by
        ``quick_request`` and checked by httptools without per-header callbacks."""
        r = quick_request(data, self.limits)
        if r is None:
            return False
        check = self.check
        check.complete = False
        try:
            self.checker.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            check.complete = False
        if not check.complete:  # invalid, or not the bodiless message it looked like
            self.checker = httptools.HttpRequestParser(check)
            return False  # the callback parser answers it
        self.fresh = False
        self.active = r
        self._start(r)
        if self.still_active(r):
            self._request_done(r)
        return True

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def pause_writing(self) -> None:
        if self.up is not None:
            self.up.pause_reading()
        if self.h2 is not None:  # the client connection is full: hold every stream
            self.h2.pause_all(True)

    def resume_writing(self) -> None:
        if self.up is not None:
            self.up.resume_reading()
        if self.h2 is not None:
            self.h2.pause_all(False)

    def _fail(self, status: int) -> None:
        """Malformed input: answer (when nothing else is being answered) and close."""
        if self.active is None or not self.resp_started:
            self._write_simple(status, b"", close=True)
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def _update_reading(self) -> None:
        want_pause = bool(self.queue) or self.up_backpressure or \
            self.pending_size > self.state.limits.buffer_limit  # fmt: skip
        if want_pause != self.paused and self.transport is not None and not self.closed:
            self.paused = want_pause
            if want_pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    # ---------------------------------------------------------------- parser callbacks
    def on_message_begin(self) -> None:
        self.parsing = Request(None)
        self.mid = True
        self.in_head = True
        self.head_bytes = 0
        self.deadline = self.clock() + self.state.limits.header_timeout

    def on_url(self, url: bytes) -> None:
        r = self.parsing
        r.url += url
        if len(r.url) > self.state.limits.max_url:
            raise BadRequest(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        r = self.parsing
        lname = name.lower()
        r.hdict.setdefault(lname, value)  # type: ignore[attr-defined]  # a dict here
        if lname not in HOP:
            r.lines.append(name + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        r = self.parsing
        self.in_head = False
        lines = r.lines
        if len(lines) > self.max_headers or sum(map(len, lines)) > self.max_header_bytes:
            raise BadRequest(431)
        p = self.parser
        r.method = p.get_method()
        hdict = r.hdict
        r.host = hdict.get(b"host", b"")
        r.xff = hdict.get(b"x-forwarded-for")
        r.keep_alive = p.should_keep_alive()
        r.http10 = p.get_http_version() == "1.0"
        r.upgrade = p.should_upgrade()
        if r.upgrade and hdict.get(b"upgrade", b"").strip().lower() == b"h2c":
            # h2c by Upgrade (RFC 7540 3.2) is deprecated by RFC 9113 and, like nginx, we
            # ignore it: served as HTTP/1.1, and never passed on (a backend accepting it
            # would take the connection out of routing). Prior knowledge and ALPN h2 work.
            r.upgrade = False
            self.h2c_ignored = True
        te = r.hdict.get(b"transfer-encoding")
        r.chunked = te is not None and b"chunked" in te.lower()
        cl = r.hdict.get(b"content-length")
        r.has_body = r.chunked or (cl is not None and cl != b"0")
        mb = self.state.limits.max_body
        if mb is not None and cl is not None and cl.isdigit() and int(cl) > mb:
            raise BadRequest(413)
        if self.active is None:
            self.active = r
            self._start(r)
        else:
            self.queue.append(r)
            self._update_reading()

    def on_body(self, body: bytes) -> None:
        r = self.parsing
        r.nbytes += len(body)
        mb = self.state.limits.max_body
        if mb is not None and r.nbytes > mb:
            raise BadRequest(413)
        if r is not self.active:
            r.body.append(body)
            return
        if self.up is not None and self.pending is None:
            self.up.write(b"%x\r\n%s\r\n" % (len(body), body) if r.chunked else body)
        elif self.pending is not None:
            self.pending.append(body)
            self.pending_size += len(body)
            self._update_reading()
        if self.state.mirrorer is not None and self.action is not None and self.action.mirrors:
            r.body.append(body)

    def on_message_complete(self) -> None:
        r = self.parsing
        r.complete = True
        self.mid = False
        if r is self.active:
            self._request_done(r)

    def expire(self, now: float) -> None:
        """Called by the sweeper: close idle or slow clients, time out silent upstreams."""
        if now <= self.deadline:
            return
        if self.h2 is not None and self.h2.streams:
            self.deadline = now + self.state.limits.idle_timeout  # busy HTTP/2 connection
        elif self.active is None:
            self.close()
        elif not self.resp_started and self.timer is None:
            self._timeout()
