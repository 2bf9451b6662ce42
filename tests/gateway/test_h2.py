"""HTTP/2 to clients: h2c with prior knowledge and ALPN h2 over TLS, through real frames."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import pytest

h2_connection = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402

from .conftest import (  # noqa: E402
    Harness,
    backend,
    basic,
    gateway,
    gateway_class,
    listener,
    route,
    service,
)
from .test_tls import cert, secret  # noqa: E402


class H2Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h2_connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding=None))  # fmt: skip
        self.conn.initiate_connection()
        self.writer.write(self.conn.data_to_send())
        self.trailers: dict[bytes, bytes] = {}

    async def request(self, path: str, host: str = "example.com", method: str = "GET",
                      body: bytes = b"", headers: list[tuple[str, str]] | None = None,
                      ) -> tuple[int, dict[bytes, bytes], bytes]:  # fmt: skip
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", host), *(headers or [])]  # fmt: skip
        self.conn.send_headers(sid, hdrs, end_stream=not body)
        events: list[Any] = []
        while body:  # respect the gateway's flow-control windows
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size)  # fmt: skip
            if room <= 0:
                self.writer.write(self.conn.data_to_send())
                chunk = await asyncio.wait_for(self.reader.read(65536), 5)
                assert chunk, "connection closed"
                events += self.conn.receive_data(chunk)
                continue
            part, body = body[:room], body[room:]
            self.conn.send_data(sid, part, end_stream=not body)
        self.writer.write(self.conn.data_to_send())
        status, resp_headers, data = 0, {}, b""
        while True:
            if not events:
                chunk = await asyncio.wait_for(self.reader.read(65536), 5)
                assert chunk, "connection closed"
                events = self.conn.receive_data(chunk)
            batch, events = events, []
            for ev in batch:
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    resp_headers = dict(ev.headers or [])
                    status = int(resp_headers[b":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data or b""
                    self.conn.acknowledge_received_data(ev.flow_controlled_length or 0, sid)
                elif isinstance(ev, h2.events.TrailersReceived) and ev.stream_id == sid:
                    self.trailers = dict(ev.headers or [])
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    self.writer.write(self.conn.data_to_send())
                    return status, resp_headers, data
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    raise AssertionError("stream reset")
            self.writer.write(self.conn.data_to_send())


async def test_h2c_prior_knowledge_routes_weights_and_bodies(h: Harness) -> None:
    await h.echo("a", "b")
    await h.start(basic(h, [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/split"}}],
         "backendRefs": [backend("a", 1), backend("b", 1)]},
        {"filters": [{"type": "ResponseHeaderModifier",
                      "responseHeaderModifier": {"add": [{"name": "x-rule", "value": "r"}]}}],
         "backendRefs": [backend("a")]},
    ]))  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    c = H2Client(reader, writer)
    status, headers, data = await c.request("/hello?q=1", headers=[("x-test", "1")])
    assert status == 200
    assert headers[b"x-backend"] == b"a" and headers[b"x-rule"] == b"r"
    info: dict[str, Any] = json.loads(data)
    assert (info["path"], info["query"]) == ("/hello", "q=1")
    assert info["headers"]["host"] == "example.com"
    assert info["headers"]["x-test"] == "1"
    seen = [(await c.request("/split"))[1][b"x-backend"] for _ in range(6)]
    assert sorted(seen) == [b"a"] * 3 + [b"b"] * 3
    status, _, data = await c.request("/upload", method="POST", body=b"x" * 100_000)
    assert status == 200 and json.loads(data)["bodyBytes"] == 100_000
    status, headers, data = await c.request("/nothing", host="other.example")
    assert status == 200  # catch-all listener and route
    writer.close()


async def test_h2_over_tls_alpn(h: Harness) -> None:
    await h.echo("a")
    objs = [gateway_class(), gateway("gw", [listener(
        "tls", h.port, "a.example.com", "HTTPS",
        tls={"certificateRefs": [{"name": "c"}]})]),
        secret("c", cert("a.example.com")), *h.svc("a"),
        route("r", [{"backendRefs": [backend("a")]}])]  # fmt: skip
    await h.start(objs)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port, ssl=ctx,
                                                   server_hostname="a.example.com")  # fmt: skip
    assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
    c = H2Client(reader, writer)
    status, headers, data = await c.request("/", host="a.example.com")
    assert status == 200 and headers[b"x-backend"] == b"a"
    assert json.loads(data)["headers"]["x-forwarded-proto"] == "https"
    status, _, _ = await c.request("/", host="a.example.com", method="HEAD")
    assert status == 200
    writer.close()


async def test_h2_large_response_respects_flow_control(h: Harness) -> None:
    size = 2 * 1024 * 1024

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size + b"y" * size)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(big, "127.0.0.1", 0)
    try:
        objs = [gateway_class(), gateway("gw", [listener("http", h.port)]),
                *service("big", [srv.sockets[0].getsockname()[1]]),
                route("r", [{"backendRefs": [backend("big")]}])]  # fmt: skip
        await h.start(objs)
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        c = H2Client(reader, writer)
        status, _, data = await c.request("/")
        assert status == 200 and len(data) == size  # > the 64 KiB initial window
        writer.close()
    finally:
        srv.close()


class FakeGrpcServer(asyncio.Protocol):
    """An h2c server answering like gRPC: echoes the message, then grpc-status trailers."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.conn = h2_connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding=None))  # fmt: skip
        self.bodies: dict[int, bytes] = {}
        self.paths: dict[int, bytes] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                hd = dict(ev.headers or [])
                assert hd[b"te"] == b"trailers" and hd[b":method"] == b"POST"
                self.paths[ev.stream_id] = hd[b":path"]
                self.bodies[ev.stream_id] = b""
            elif isinstance(ev, h2.events.DataReceived):
                self.bodies[ev.stream_id] += ev.data or b""
                self.conn.acknowledge_received_data(ev.flow_controlled_length or 0,
                                                    ev.stream_id)  # fmt: skip
            elif isinstance(ev, h2.events.StreamEnded):
                sid = ev.stream_id
                self.conn.send_headers(sid, [(b":status", b"200"),
                                             (b"content-type", b"application/grpc"),
                                             (b"x-backend", self.name)])  # fmt: skip
                self.conn.send_data(sid, self.bodies.pop(sid))
                self.conn.send_headers(sid, [(b"grpc-status", b"0"),
                                             (b"grpc-message", self.paths.pop(sid))],
                                       end_stream=True)  # fmt: skip
        self.transport.write(self.conn.data_to_send())  # type: ignore[attr-defined]


async def test_grpc_route_over_h2_end_to_end_with_weights_and_trailers(h: Harness) -> None:
    loop = asyncio.get_running_loop()
    ports = {}
    servers = []
    for name in ("g1", "g2"):
        srv = await loop.create_server(lambda n=name: FakeGrpcServer(n), "127.0.0.1", 0)
        servers.append(srv)
        ports[name] = srv.sockets[0].getsockname()[1]
    try:
        objs = [gateway_class(), gateway("gw", [listener("http", h.port)]),
                *service("g1", [ports["g1"]]), *service("g2", [ports["g2"]]),
                route("greeter", [
                    {"matches": [{"method": {"service": "pkg.Greeter", "method": "SayHello"}}],
                     "backendRefs": [backend("g1", 3), backend("g2", 1)]}],
                    kind="GRPCRoute")]  # fmt: skip
        await h.start(objs)
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        c = H2Client(reader, writer)
        message = b"\x00\x00\x00\x00\x05hello"  # one length-prefixed gRPC message
        grpc = [("content-type", "application/grpc"), ("te", "trailers")]
        seen = []
        for _ in range(8):
            status, headers, data = await c.request("/pkg.Greeter/SayHello", method="POST",
                                                    body=message, headers=grpc)  # fmt: skip
            assert status == 200 and data == message
            assert c.trailers == {b"grpc-status": b"0",
                                  b"grpc-message": b"/pkg.Greeter/SayHello"}  # fmt: skip
            seen.append(headers[b"x-backend"])
        assert sorted(seen) == [b"g1"] * 6 + [b"g2"] * 2
        status, _, _ = await c.request("/pkg.Greeter/Other", method="POST", body=message,
                                       headers=grpc)  # fmt: skip
        assert status == 404  # no matching GRPCRoute rule
        writer.close()
    finally:
        for srv in servers:
            srv.close()


async def test_http1_client_to_h2c_backend_gets_trailers_in_chunked_body(h: Harness) -> None:
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: FakeGrpcServer("h2"), "127.0.0.1", 0)
    try:
        svc = service("h2svc", [srv.sockets[0].getsockname()[1]])
        svc[0]["spec"]["ports"][0]["appProtocol"] = "kubernetes.io/h2c"
        objs = [gateway_class(), gateway("gw", [listener("http", h.port)]), *svc,
                route("r", [{"backendRefs": [backend("h2svc")]}])]  # fmt: skip
        await h.start(objs)
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(b"POST /svc/M HTTP/1.1\r\nHost: e\r\ncontent-type: application/grpc\r\n"
                     b"content-length: 5\r\nConnection: close\r\n\r\nhello")  # fmt: skip
        out = await asyncio.wait_for(reader.read(-1), 5)
        writer.close()
        assert out.startswith(b"HTTP/1.1 200")
        assert b"transfer-encoding: chunked" in out.lower()
        assert out.endswith(b"5\r\nhello\r\n0\r\ngrpc-status: 0\r\ngrpc-message: /svc/M\r\n\r\n")
    finally:
        srv.close()
