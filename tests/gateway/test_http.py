"""HTTP/1.1 behaviour: bad input, limits, keep-alive, pipelining, bodies, retries, upgrade."""

from __future__ import annotations

import asyncio
import json

import pytest

from rollouts.gateway.http1 import Limits

from .conftest import Harness, backend, basic, gateway, gateway_class, listener, route, service


async def raw(port: int, data: bytes, read_until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        if read_until_close:
            return await asyncio.wait_for(reader.read(-1), 5)
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


async def test_malformed_request_gets_400_and_close(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]))
    out = await raw(h.port, b"GARBAGE\x00 / HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")
    assert b"connection: close" in out
    # the worker is fine afterwards
    assert (await h.request("/")).backend == "a"


async def test_header_limits_431_and_url_limit_414(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]),
                  limits=Limits(max_headers=10, max_header_bytes=2000, max_url=100))  # fmt: skip
    many = b"".join(b"x-h%d: v\r\n" % i for i in range(20))
    out = await raw(h.port, b"GET / HTTP/1.1\r\nHost: e\r\n" + many + b"\r\n")
    assert out.startswith(b"HTTP/1.1 431")
    big = b"x-big: " + b"v" * 5000 + b"\r\n"
    out = await raw(h.port, b"GET / HTTP/1.1\r\nHost: e\r\n" + big + b"\r\n")
    assert out.startswith(b"HTTP/1.1 431")
    out = await raw(h.port, b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: e\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 414")


async def test_body_limit_413(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]), limits=Limits(max_body=10))
    assert (await h.request("/", method="POST", data=b"x" * 5)).status == 200
    out = await raw(h.port, b"POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 50\r\n\r\n" + b"x" * 50)
    assert out.startswith(b"HTTP/1.1 413")


async def test_slow_client_is_closed(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]),
                  limits=Limits(header_timeout=0.2, idle_timeout=0.2))  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: e\r\n")  # never finishes its headers
    data = await asyncio.wait_for(reader.read(-1), 5)
    writer.close()
    assert data == b""


async def test_pipelined_requests_answered_in_order(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]))
    req = b"".join(b"GET /n%d HTTP/1.1\r\nHost: e\r\n\r\n" % i for i in range(5))
    out = await raw(h.port, req + b"GET /last HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
    paths = [json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0])["path"]
             for part in out.split(b"HTTP/1.1 200")[1:]]  # fmt: skip
    assert paths == ["/n0", "/n1", "/n2", "/n3", "/n4", "/last"]


async def test_bodies_stream_both_ways_fixed_and_chunked(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]))
    r = await h.request("/", method="POST", data=b"x" * 3_000_000)
    assert r.json["bodyBytes"] == 3_000_000

    async def gen():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 1000

    r = await h.request("/", method="POST", data=gen())  # type: ignore[arg-type]
    assert r.json["bodyBytes"] == 10_000
    out = await raw(h.port, b"POST / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n"
                    b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")  # fmt: skip
    assert b'"bodyBytes": 5' in out


async def test_head_request_and_keepalive_pool_reuse(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]))
    r = await h.request("/", method="HEAD")
    assert r.status == 200 and r.body == b""
    for _ in range(5):
        assert (await h.request("/")).status == 200
    assert h.gw is not None
    idle = sum(len(v) for v in h.gw.pool.idle.values())
    assert idle == 1  # sequential requests reuse one upstream connection


async def test_dead_pooled_connection_is_retried_on_a_fresh_one(h: Harness) -> None:
    """A backend that answers one request per connection and then drops the next one."""

    async def one_shot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-backend: once\r\n\r\nok")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the second request on this connection...
        writer.close()  # ...is dropped without an answer, as by an idle timeout race

    srv = await asyncio.start_server(one_shot, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
        objs += [*service("once", [port]), route("r", [{"backendRefs": [backend("once")]}])]
        await h.start(objs)
        for _ in range(4):
            assert (await h.request("/")).status == 200
        # a POST with a body is not retried: 502
        assert (await h.request("/", method="POST", data=b"abc")).status == 502
    finally:
        srv.close()


async def test_x_forwarded_for_appends(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]))
    r = await h.request("/", headers={"X-Forwarded-For": "10.0.0.1"})
    assert r.json["headers"]["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"


async def test_websocket_upgrade_passes_through(h: Harness) -> None:
    async def ws(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"upgrade: websocket" in head.lower()
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n\r\n")  # fmt: skip
        while data := await reader.read(1024):
            writer.write(b"echo:" + data)
        writer.close()

    srv = await asyncio.start_server(ws, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
        objs += [*service("ws", [port]), route("r", [{"backendRefs": [backend("ws")]}])]
        await h.start(objs)
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(b"GET /chat HTTP/1.1\r\nHost: e\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n\r\n")  # fmt: skip
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(b"frame1")
        assert await asyncio.wait_for(reader.readexactly(11), 5) == b"echo:frame1"
        writer.close()
    finally:
        srv.close()


async def test_silent_upstream_times_out_with_504(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]),
                  limits=Limits(response_timeout=0.3))  # fmt: skip
    assert (await h.request("/delay/5000")).status == 504
    assert (await h.request("/")).status == 200


async def test_close_delimited_upstream_body_is_rechunked_or_close_delimited(h: Harness
                                                                           ) -> None:  # fmt: skip
    async def old_school(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nx-backend: old\r\n\r\nno length, ")
        await writer.drain()
        writer.write(b"ends at close")
        writer.close()

    srv = await asyncio.start_server(old_school, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
        objs += [*service("old", [port]), route("r", [{"backendRefs": [backend("old")]}])]
        await h.start(objs)
        r = await h.request("/")
        assert (r.status, r.body) == (200, b"no length, ends at close")
        assert r.headers["transfer-encoding"] == "chunked"
        out = await raw(h.port, b"GET / HTTP/1.0\r\nHost: e\r\n\r\n")
        assert out.endswith(b"\r\n\r\nno length, ends at close")
        assert b"chunked" not in out.lower()
        assert (await h.request("/")).status == 200  # and the gateway is fine
    finally:
        srv.close()


async def test_slow_client_pauses_the_upstream_instead_of_buffering(h: Harness) -> None:
    size = 32 * 1024 * 1024
    chunk = b"z" * 65536

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        for _ in range(size // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        await reader.read()  # keep the connection until the gateway closes it
        writer.close()

    srv = await asyncio.start_server(big, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
        objs += [*service("big", [port]), route("r", [{"backendRefs": [backend("big")]}])]
        await h.start(objs)
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port, limit=65536)
        writer.write(b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.5)  # a client that does not read
        assert h.gw is not None
        (conn,) = h.gw.state.conns
        assert conn.up is not None and conn.up.paused  # the upstream stopped being read
        buffered = conn.transport.get_write_buffer_size() if conn.transport else 0
        assert buffered < 4 * 1024 * 1024  # bounded, nowhere near the 32 MiB body
        got = 0
        while got < size:
            data = await asyncio.wait_for(reader.read(1 << 20), 5)
            assert data
            got += len(data)
        assert got == size
        writer.close()
    finally:
        srv.close()


@pytest.mark.parametrize("junk", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),  # TLS on plain HTTP
    b"GET / HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
    b"GET / HTTP/1.1\r\nHost e\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: e\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 40,  # h2 preface, then garbage frames
    b"GET /\x00 HTTP/1.1\r\n\r\n",
])  # fmt: skip
async def test_garbage_never_hurts_the_worker(
    h: Harness, junk: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]))
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(junk)
    out = await asyncio.wait_for(reader.read(-1), 5)  # the gateway closes the connection
    writer.close()
    assert out == b"" or out.startswith(b"HTTP/1.1 400") or out[3:4] == b"\x04"  # h2 frames
    assert (await h.request("/")).backend == "a"
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_headers_named_in_connection_are_not_forwarded(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a")]}]))
    r = await h.request("/", headers={"Connection": "keep-alive, X-Secret",
                                      "X-Secret": "s", "X-Kept": "k"})  # fmt: skip
    assert "x-secret" not in r.json["headers"]
    assert r.json["headers"]["x-kept"] == "k"
    r = await h.request("/", headers={"Connection": "X-Secret", "X-Secret": "s"})
    assert "x-secret" not in r.json["headers"]


async def test_endless_header_value_is_cut_off_with_431(h: Harness) -> None:
    await h.echo("a")
    await h.start(
        basic(h, [{"backendRefs": [backend("a")]}]), limits=Limits(max_header_bytes=20_000)
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: e\r\nX-Endless: ")
    out = b""
    for _ in range(100):  # up to 1 MB of one header value, never finished
        writer.write(b"v" * 10_000)
        await writer.drain()
        try:
            out = await asyncio.wait_for(reader.read(100), 0.02)
        except TimeoutError:
            continue
        break
    writer.close()
    assert out.startswith(b"HTTP/1.1 431")
