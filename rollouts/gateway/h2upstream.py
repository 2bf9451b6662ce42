"""HTTP/2 (h2c) to backends, for gRPC and Services whose port says ``appProtocol: h2c``.

Why this exists: gRPC needs HTTP/2 end to end, with trailers (``grpc-status``). The
client side already hands every exchange to a ``ClientConn`` that speaks HTTP/1.1 to an
``Upstream``; ``H2Stream`` is an Upstream that takes those HTTP/1.1 request bytes,
sends them as one stream on a shared h2c connection per endpoint, and reports the
response (headers, data, trailers) back through the same sink callbacks as an HTTP/1.1
upstream. So routing, weights, filters, timeouts and metrics apply to gRPC unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import httptools

from rollouts.gateway.upstream import RESP_HOP, UpstreamSink

__all__ = ["H2Pool", "H2Stream", "H2UpConn"]

_REQ_DROP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                       b"upgrade", b"host", b"te", b"trailer"))  # fmt: skip


class H2Stream:
    """One request/response on an h2c connection, seen by ClientConn as an Upstream."""

    def __init__(self, conn: H2UpConn) -> None:
        self.conn = conn
        self.sink: UpstreamSink | None = None
        self.closed = False
        self.started = False
        self.reused = False
        self.paused = False
        self.sid = 0
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.pending = b""
        self.end_pending = False

    # ---- Upstream protocol
    def begin(self, sink: UpstreamSink, head_only: bool) -> None:
        self.sink = sink

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()

    def keep_alive(self) -> bool:
        return True

    def release(self, reusable: bool) -> None:
        self.sink = None
        if not reusable:
            self.close()
        self.conn.streams.pop(self.sid, None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.conn.reset(self.sid)

    def pause_reading(self) -> None:
        self.paused = True  # DATA is acknowledged only when the client has taken it

    def resume_reading(self) -> None:
        self.paused = False
        self.conn.ack(self)

    # ---- httptools callbacks: the HTTP/1.1 request the ClientConn wrote
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        hd = dict(self.headers)
        req = [(b":method", self.parser.get_method()), (b":scheme", b"http"),
               (b":authority", hd.get(b"host", b"")), (b":path", self.url)]  # fmt: skip
        req += [(n, v) for n, v in self.headers if n not in _REQ_DROP]
        if hd.get(b"content-type", b"").startswith(b"application/grpc"):
            req.append((b"te", b"trailers"))
        try:
            self.sid = self.conn.open(self, req)
        except h2.exceptions.H2Error as exc:  # e.g. the peer's stream limit is reached
            self.closed = True
            sink, self.sink = self.sink, None
            if sink is not None:
                sink.up_lost(self, exc)

    def on_body(self, body: bytes) -> None:
        self.pending += body
        self.conn.flush(self)

    def on_message_complete(self) -> None:
        self.end_pending = True
        self.conn.flush(self)


class H2UpConn(asyncio.Protocol):
    """An h2c connection to one endpoint, shared by concurrent streams."""

    def __init__(self, pool: H2Pool, key: tuple[str, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding=None))  # fmt: skip
        self.streams: dict[int, H2Stream] = {}
        self.unacked: dict[int, int] = {}
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.h2.initiate_connection()
        self._send()

    def _send(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def stream(self) -> H2Stream:
        return H2Stream(self)

    def open(self, st: H2Stream, headers: list[tuple[bytes, bytes]]) -> int:
        sid = int(self.h2.get_next_available_stream_id())
        self.h2.send_headers(sid, headers)
        self.streams[sid] = st
        self._send()
        return sid

    def flush(self, st: H2Stream) -> None:
        sid = st.sid
        with contextlib.suppress(h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            while st.pending:
                room = min(self.h2.local_flow_control_window(sid),
                           self.h2.max_outbound_frame_size)  # fmt: skip
                if room <= 0:
                    break
                chunk, st.pending = st.pending[:room], st.pending[room:]
                self.h2.send_data(sid, chunk)
            if st.end_pending and not st.pending:
                st.end_pending = False
                self.h2.end_stream(sid)
        self._send()

    def ack(self, st: H2Stream) -> None:
        n = self.unacked.pop(st.sid, 0)
        if n:
            with contextlib.suppress(h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
                self.h2.acknowledge_received_data(n, st.sid)
            self._send()

    def reset(self, sid: int) -> None:
        if sid and sid in self.streams:
            self.streams.pop(sid, None)
            with contextlib.suppress(h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
                self.h2.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            self._send()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(exc)
            return
        for ev in events:
            st = self.streams.get(getattr(ev, "stream_id", 0) or 0)
            sink = st.sink if st is not None else None
            if isinstance(ev, h2.events.ResponseReceived) and st and sink:
                st.started = True
                hs = [(n, v) for n, v in ev.headers or [] if n not in RESP_HOP]
                status = int(dict(hs).get(b":status", b"502"))
                plain = [(n, v) for n, v in hs if not n.startswith(b":")]
                lines = [n + b": " + v + b"\r\n" for n, v in plain]
                has_len = any(n == b"content-length" for n, _ in plain)
                sink.up_head(st, status, lines, has_len, None)
            elif isinstance(ev, h2.events.DataReceived) and st and sink:
                sink.up_body(ev.data or b"")
                self.unacked[ev.stream_id] = self.unacked.get(ev.stream_id, 0) + (
                    ev.flow_controlled_length or 0
                )
                if not st.paused:
                    self.ack(st)
            elif isinstance(ev, h2.events.TrailersReceived) and sink:
                sink.up_trailers([n + b": " + v + b"\r\n" for n, v in ev.headers or []])
            elif isinstance(ev, h2.events.StreamEnded) and st and sink:
                self.streams.pop(ev.stream_id, None)
                sink.up_flush()
                sink.up_done(st)
            elif isinstance(ev, h2.events.StreamReset) and st:
                self.streams.pop(ev.stream_id, None)
                st.closed = True
                st.sink = None
                if sink:
                    sink.up_lost(st, None)
            elif isinstance(ev, h2.events.WindowUpdated):
                for s in list(self.streams.values()):
                    if s.pending or s.end_pending:
                        self.flush(s)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self._fail(None)
                return
        for st in list(self.streams.values()):
            if st.sink is not None:
                st.sink.up_flush()
        self._send()

    def _fail(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        streams, self.streams = self.streams, {}
        for st in streams.values():
            st.closed = True
            sink, st.sink = st.sink, None
            if sink is not None:
                sink.up_lost(st, exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self._fail(exc)


class H2Pool:
    """One shared h2c connection per endpoint."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connect_timeout: float = 5.0) -> None:
        self.loop = loop
        self.connect_timeout = connect_timeout
        self.conns: dict[tuple[str, int], H2UpConn] = {}

    def get(self, key: tuple[str, int]) -> H2UpConn | None:
        c = self.conns.get(key)
        return c if c is not None and not c.closed else None

    async def connect(self, key: tuple[str, int]) -> H2UpConn:
        c = self.get(key)
        if c is not None:
            return c
        _, proto = await asyncio.wait_for(
            self.loop.create_connection(lambda: H2UpConn(self, key), key[0], key[1]),
            self.connect_timeout,
        )
        self.conns.setdefault(key, proto)
        return proto

    def forget(self, conn: H2UpConn) -> None:
        if self.conns.get(conn.key) is conn:
            del self.conns[conn.key]

    def close(self) -> None:
        for c in list(self.conns.values()):
            c._fail(None)
        self.conns.clear()
