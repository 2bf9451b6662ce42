"""HTTP/2 (h2c) to backends, for gRPC and Services whose port says ``appProtocol: h2c``.

Why this exists: gRPC needs HTTP/2 end to end, with trailers (``grpc-status``). The
client side already hands every exchange to a ``ClientConn`` that speaks HTTP/1.1 to an
``Upstream``; ``H2Stream`` is an Upstream that takes those HTTP/1.1 request bytes,
sends them as one stream on a shared h2c connection per endpoint, and reports the
response (headers, data, trailers) back through the same sink callbacks as an HTTP/1.1
upstream. So routing, weights, filters, timeouts and metrics apply to gRPC unchanged.

Backends are real HTTP/2 servers, so: a stream waits for the server's SETTINGS and
opens a further connection when the server's MAX_CONCURRENT_STREAMS is reached; a
graceful GOAWAY (a backend shutting down) lets in-flight streams finish; request
bodies apply backpressure to the client instead of piling up; and the connection
receive window is large, so one stream whose client stopped reading cannot stall
the other streams sharing the connection (each stream's own window still bounds it).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import httptools

from rollouts.gateway.upstream import RESP_HOP

if TYPE_CHECKING:
    from h2.events import Event
    from hyperframe.frame import Frame, GoAwayFrame

    from rollouts.gateway.relay import ResponseRelay

__all__ = ["H2Pool", "H2Stream", "H2UpConn", "send_window"]

#: connection-level receive window (streams keep h2's 64 KiB default each)
CONN_WINDOW = 16 * 1024 * 1024

_REQ_DROP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                       b"upgrade", b"host", b"te", b"trailer"))  # fmt: skip


def send_window(conn: h2.connection.H2Connection, sid: int, data: bytes) -> bytes:
    """Queue as much of ``data`` as stream ``sid``'s flow-control window and the frame
    size allow, as DATA frames; returns what must wait for a WINDOW_UPDATE."""
    while data:
        room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
        if room <= 0:
            break
        conn.send_data(sid, data[:room])
        data = data[room:]
    return data


class _Connection(h2.connection.H2Connection):
    """h2 treats any GOAWAY as the end of the connection (python-hyper/h2#1181): frames
    for the streams the server still finishes would then be protocol errors. A GOAWAY
    with NO_ERROR is reported, but the connection stays open for those streams."""

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[Event]]:
        if frame.error_code:
            return super()._receive_goaway_frame(frame)
        ev = h2.events.ConnectionTerminated()
        ev.error_code = h2.errors.ErrorCodes.NO_ERROR
        ev.last_stream_id = frame.last_stream_id
        ev.additional_data = frame.additional_data or None
        return [], [ev]


class H2Stream:
    """One request/response on an h2c connection, seen by ClientConn as an Upstream."""

    def __init__(self, conn: H2UpConn) -> None:
        self.conn = conn
        self.sink: ResponseRelay | None = None
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
        self.holding = False  # the client was told to stop sending (window exhausted)

    # ---- Upstream protocol
    def begin(self, sink: ResponseRelay, head_only: bool) -> None:
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
        self.conn.idle_check()

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
        self.h2 = _Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.streams: dict[int, H2Stream] = {}
        self.unacked: dict[int, int] = {}
        self.closed = False
        self.draining = False  # GOAWAY received: no new streams
        self.ready: asyncio.Future[None] = pool.loop.create_future()  # server SETTINGS seen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(CONN_WINDOW - 65535)  # 65535: the initial
        self._send()

    def usable(self) -> bool:
        """Open, not draining, and below the server's MAX_CONCURRENT_STREAMS."""
        if self.closed or self.draining or not self.ready.done():
            return False
        limit = self.h2.remote_settings.max_concurrent_streams
        return bool(self.h2.open_outbound_streams < limit)

    def idle_check(self) -> None:
        """A connection with no streams left goes when draining or when it is surplus."""
        if not self.streams and not self.closed and (self.draining or self.pool.surplus(self)):
            self._fail(None)

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
            st.pending = send_window(self.h2, sid, st.pending)
            if st.end_pending and not st.pending:
                st.end_pending = False
                self.h2.end_stream(sid)
        self._send()
        # request backpressure: what the server's window does not take stops the client
        sink = st.sink
        if st.pending and not st.holding:
            st.holding = True
            if sink is not None:
                sink.up_pause()
        elif not st.pending and st.holding:
            st.holding = False
            if sink is not None:
                sink.up_resume()

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
            self.idle_check()

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
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                if not self.ready.done():
                    self.ready.set_result(None)
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
                if ev.error_code != h2.errors.ErrorCodes.NO_ERROR:
                    self._fail(None)
                    return
                self._goaway(ev.last_stream_id or 0)
        for st in list(self.streams.values()):
            if st.sink is not None:
                st.sink.up_flush()
        self._send()
        self.idle_check()

    def _goaway(self, last: int) -> None:
        """Graceful GOAWAY: no new streams here; the unprocessed ones are lost (they may
        be retried elsewhere by the client), the others run to completion."""
        self.draining = True  # stays in the pool (for close()), but get() skips it
        for sid in [sid for sid in self.streams if sid > last]:
            st = self.streams.pop(sid)
            st.closed = True
            sink, st.sink = st.sink, None
            if sink is not None:
                sink.up_lost(st, None)

    def _fail(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if not self.ready.done():  # an OSError, as the client side expects of a connect
            err = ConnectionError(f"h2c connection to {self.key} closed before SETTINGS")
            err.__cause__ = exc
            self.ready.set_exception(err)
            self.ready.exception()  # retrieved: nobody may be waiting
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
    """h2c connections per endpoint: shared by streams, more when one is full."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connect_timeout: float = 5.0) -> None:
        self.loop = loop
        self.connect_timeout = connect_timeout
        self.conns: dict[tuple[str, int], list[H2UpConn]] = {}
        self.connecting: dict[tuple[str, int], asyncio.Task[H2UpConn]] = {}

    def get(self, key: tuple[str, int]) -> H2UpConn | None:
        for c in self.conns.get(key, ()):
            if c.usable():
                return c
        return None

    async def connect(self, key: tuple[str, int]) -> H2UpConn:
        """A connection with room for a stream; concurrent callers share one attempt."""
        for _ in range(8):  # a server that takes no streams at all must not loop forever
            c = self.get(key)
            if c is not None:
                return c
            task = self.connecting.get(key)
            if task is None:
                task = self.connecting[key] = self.loop.create_task(self._open(key))
                task.add_done_callback(lambda t: self._connected(key, t))
            await asyncio.shield(task)  # its error (refused, timeout) is everyone's
        raise ConnectionError(f"no HTTP/2 connection to {key} has room for a stream")

    def _connected(self, key: tuple[str, int], task: asyncio.Task[H2UpConn]) -> None:
        if self.connecting.get(key) is task:
            del self.connecting[key]
        if not task.cancelled() and task.exception() is None:
            conn = task.result()
            if not conn.closed:
                self.conns.setdefault(key, []).append(conn)

    async def _open(self, key: tuple[str, int]) -> H2UpConn:
        async with asyncio.timeout(self.connect_timeout):
            _, proto = await self.loop.create_connection(
                lambda: H2UpConn(self, key), key[0], key[1]
            )
            try:
                await proto.ready  # the server's SETTINGS: its stream limit is known
            except BaseException:
                proto._fail(None)
                raise
        return proto

    def surplus(self, conn: H2UpConn) -> bool:
        """An idle connection is surplus when another one to its endpoint is usable."""
        return any(c is not conn and c.usable() for c in self.conns.get(conn.key, ()))

    def forget(self, conn: H2UpConn) -> None:
        conns = self.conns.get(conn.key)
        if conns is not None and conn in conns:
            conns.remove(conn)
            if not conns:
                del self.conns[conn.key]

    def close(self) -> None:
        for conns in list(self.conns.values()):
            for c in list(conns):
                c._fail(None)
        self.conns.clear()
