"""HTTP/2 to clients (h2c with prior knowledge, and ALPN ``h2`` on HTTPS listeners).

Why this exists: browsers speak HTTP/2 over TLS, and some clients use h2c. Rather than
duplicating routing, filters, balancing, mirrors, timeouts and metrics, each HTTP/2
stream drives its own ``ClientConn`` through an in-memory transport: the stream's
request is handed to it as an HTTP/1.1 request, and the HTTP/1.1 response it writes is
parsed back into HEADERS and DATA frames. Flow control is honoured both ways: when a
stream's send window is exhausted its ClientConn is told to pause writing (which pauses
the upstream), and request DATA is acknowledged only once handed on. Uses the pure
Python ``h2`` library, so HTTP/2 costs more CPU per request than HTTP/1.1. Which
protocol the upstream speaks is the stream's ClientConn's business (HTTP/1.1, or h2c
for gRPC, see ``h2upstream``); gRPC trailers come back as HTTP/1.1 chunked trailers and
leave here as an HTTP/2 trailing HEADERS frame, and a gRPC "Trailers-Only" answer (the
status in the response headers, no body) leaves as the single HEADERS frame with
END_STREAM that gRPC clients require. The connection's receive window is large, so a
stream whose upstream is slow to take its body holds back only its own stream window.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import httptools

from rollouts.gateway.h2upstream import CONN_WINDOW, send_window

if TYPE_CHECKING:
    from rollouts.gateway.proxy import ClientConn
    from rollouts.gateway.state import ProxyState

__all__ = ["PREFACE", "H2Session"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DROP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                   b"upgrade", b"te", b"trailer"))  # fmt: skip
_BAD = (b"\r", b"\n", b"\0")


class _StreamTransport(asyncio.Transport):
    """What a stream's ClientConn writes to: HTTP/1.1 bytes parsed back into frames."""

    def __init__(self, session: H2Session, stream_id: int, head_only: bool) -> None:
        super().__init__()
        self.session = session
        self.stream_id = stream_id
        self.head_only = head_only
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.pending = b""  # DATA waiting for send window
        self.ended = False
        self.closing = False
        self.conn: ClientConn | None = None
        self.paused = False
        self.chunked = False  # request body re-framed as chunked (no content-length)
        self.in_body = False  # headers after this point are trailers (gRPC status)
        self.trailers: list[tuple[bytes, bytes]] = []
        self.held: list[tuple[bytes, bytes]] | None = None  # a Trailers-Only HEADERS

    # ---- asyncio.Transport surface used by ClientConn
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return default  # the stream itself speaks HTTP/1.1 to its ClientConn
        return self.session.transport.get_extra_info(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.ended:
            return
        try:
            self.parser.feed_data(bytes(data))
        except httptools.HttpParserError:
            self.session.reset(self.stream_id)
            self.ended = True

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        if not self.ended:
            self.session.reset(self.stream_id)
            self.ended = True
        if self.conn is not None:  # like a real transport: connection_lost comes later
            asyncio.get_running_loop().call_soon(self.conn.connection_lost, None)
        self.session.forget(self)

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False
        self.session.ack_pending(self.stream_id)

    def get_write_buffer_size(self) -> int:
        return len(self.pending)

    # ---- httptools callbacks (the HTTP/1.1 response of the stream's ClientConn)
    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname not in _DROP:
            (self.trailers if self.in_body else self.headers).append((lname, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        headers, self.headers = self.headers, []
        if 100 <= status < 200:
            return  # interim responses are not relayed over HTTP/2
        self.in_body = True
        head = [(b":status", b"%d" % status), *headers]
        if not self.head_only and any(n == b"grpc-status" for n, _ in headers):
            # gRPC "Trailers-Only": it must stay ONE HEADERS frame with END_STREAM (gRPC
            # clients reject HEADERS + empty DATA), so hold it until the end is known
            self.held = head
            return
        empty = not self.head_only and (b"content-length", b"0") in headers
        self.session.send_headers(self.stream_id, head, end=self.head_only or empty)
        if self.head_only or empty:
            self.ended = True

    def _send_held(self, end: bool) -> None:
        head, self.held = self.held, None
        if head is not None:
            self.session.send_headers(self.stream_id, head + self.trailers, end=end)
            if end:
                self.trailers = []

    def on_body(self, body: bytes) -> None:
        self._send_held(end=False)
        self.pending += body
        self.session.flush(self)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200 or self.ended:
            return
        self.ended = True
        if self.held is not None:
            self._send_held(end=True)
            if self.closing:
                self.session.streams.pop(self.stream_id, None)
            return
        self.session.flush(self, end=True)


class H2Session:
    """One HTTP/2 client connection; its streams each run through a ClientConn."""

    def __init__(self, owner: ClientConn, state: ProxyState, port: int, scheme: bytes) -> None:
        self.owner = owner
        assert owner.transport is not None
        self.transport = owner.transport
        self.state = state
        self.port = port
        self.scheme = scheme
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding=None))  # fmt: skip
        self.h2.initiate_connection()
        # a large connection window: a stream whose upstream is slow holds back only its
        # own 64 KiB window, never the other streams of this connection
        self.h2.increment_flow_control_window(CONN_WINDOW - 65535)
        self.streams: dict[int, _StreamTransport] = {}
        self.unacked: dict[int, int] = {}
        self.ended_flush: set[int] = set()
        self._send()

    def _send(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._send()
            self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                self._request(ev.stream_id, ev.headers or [], ev.stream_ended is not None)
            elif isinstance(ev, h2.events.DataReceived):
                self._data(ev.stream_id, ev.data or b"", ev.flow_controlled_length or 0)
            elif isinstance(ev, h2.events.StreamEnded):
                st = self.streams.get(ev.stream_id)
                if st is not None and st.chunked and st.conn is not None and not st.conn.closed:
                    st.conn.data_received(b"0\r\n\r\n")
            elif isinstance(ev, h2.events.StreamReset):
                self._abort(ev.stream_id)
            elif isinstance(ev, h2.events.WindowUpdated):
                targets = list(self.streams.values()) if not ev.stream_id else \
                    [s for s in (self.streams.get(ev.stream_id),) if s is not None]  # fmt: skip
                for st in targets:
                    self.flush(st, end=st.stream_id in self.ended_flush)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.transport.close()
        self._send()

    def _request(self, sid: int, headers: list[tuple[bytes, bytes]], ended: bool) -> None:
        from rollouts.gateway.proxy import ClientConn

        pseudo = {n: v for n, v in headers if n.startswith(b":")}
        method, path = pseudo.get(b":method", b"GET"), pseudo.get(b":path", b"/")
        authority = pseudo.get(b":authority")
        lines = [method + b" " + path + b" HTTP/1.1\r\n"]
        has_len = False
        for n, v in headers:
            if n.startswith(b":") or (n == b"host" and authority) or n in _DROP:
                continue
            if any(c in n or c in v for c in _BAD):
                self.reset(sid, h2.errors.ErrorCodes.PROTOCOL_ERROR)
                return
            has_len = has_len or n == b"content-length"
            lines.append(n + b": " + v + b"\r\n")
        if authority:
            if any(c in authority for c in _BAD):
                self.reset(sid, h2.errors.ErrorCodes.PROTOCOL_ERROR)
                return
            lines.append(b"host: " + authority + b"\r\n")
        chunked = not ended and not has_len
        if chunked:
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"connection: close\r\n\r\n")
        st = _StreamTransport(self, sid, method == b"HEAD")
        self.streams[sid] = st
        conn = ClientConn(self.state, self.port, self.scheme)
        st.conn = conn
        st.chunked = chunked
        conn.connection_made(st)
        conn.data_received(b"".join(lines))

    def _data(self, sid: int, data: bytes, flow: int) -> None:
        st = self.streams.get(sid)
        if st is None or st.conn is None or st.conn.closed:
            self.h2.acknowledge_received_data(flow, sid) if flow else None
            return
        if data:
            chunk = b"%x\r\n%s\r\n" % (len(data), data) if st.chunked else data
            st.conn.data_received(chunk)
        self.unacked[sid] = self.unacked.get(sid, 0) + flow
        if not st.paused:
            self.ack_pending(sid)

    def ack_pending(self, sid: int) -> None:
        n = self.unacked.pop(sid, 0)
        if n and sid in self.streams:
            with contextlib.suppress(h2.exceptions.StreamClosedError):
                self.h2.acknowledge_received_data(n, sid)
            self._send()

    def send_headers(self, sid: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        try:
            self.h2.send_headers(sid, headers, end_stream=end)
        except h2.exceptions.ProtocolError:
            self.reset(sid)
        self._send()

    def flush(self, st: _StreamTransport, end: bool = False) -> None:
        """Send as much of a stream's pending DATA as the windows allow."""
        sid = st.stream_id
        try:
            st.pending = send_window(self.h2, sid, st.pending)
            if end and not st.pending:
                if st.trailers:
                    self.h2.send_headers(sid, st.trailers, end_stream=True)
                else:
                    self.h2.end_stream(sid)
                self.ended_flush.discard(sid)
                if st.closing:
                    self.streams.pop(sid, None)
            elif end:
                self.ended_flush.add(sid)
        except (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            st.pending = b""
        conn = st.conn
        if conn is not None:
            # flow control: a full window stops the upstream, an empty buffer restarts it
            if st.pending and not st.paused:
                conn.pause_writing()
            elif not st.pending:
                conn.resume_writing()
        self._send()

    def reset(self, sid: int, code: int = h2.errors.ErrorCodes.INTERNAL_ERROR) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            self.h2.reset_stream(sid, code)
        self._send()

    def _abort(self, sid: int) -> None:
        st = self.streams.pop(sid, None)
        self.ended_flush.discard(sid)
        self.unacked.pop(sid, None)
        if st is not None:
            st.ended = True
            if st.conn is not None:
                st.conn.close()

    def forget(self, st: _StreamTransport) -> None:
        """The stream's ClientConn is done; keep the stream only while DATA is queued."""
        if self.streams.get(st.stream_id) is st and st.stream_id not in self.ended_flush:
            del self.streams[st.stream_id]
            self.unacked.pop(st.stream_id, None)

    def pause_all(self, paused: bool) -> None:
        """Backpressure from the client's TCP connection, applied to every stream."""
        for st in list(self.streams.values()):
            if st.conn is not None:
                if paused:
                    st.conn.pause_writing()
                else:
                    st.conn.resume_writing()

    def connection_lost(self) -> None:
        for sid in list(self.streams):
            self._abort(sid)
