"""Hop-by-hop handling and message framing on both sides of the HTTP/1.1 proxy.

Most requests and responses take the proxy's quick path (the head relayed as received,
minus hop-by-hop lines); these tests pin down that what reaches the backend and the
client is exactly what RFC 9110 section 7.6.1 asks of an intermediary, on both the quick
and the full path, and that framing edge cases (bodies split across reads, an upstream
sending more than Content-Length, Connection: close either way) stay correct.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from .conftest import Harness, backend, gateway, gateway_class, listener, route, service

Script = Callable[[int], list[bytes]]  # request number -> chunks to write back


class ScriptedBackend:
    """Records each request head it receives and answers from a script; a chunk of
    b"" means "pause 50 ms", a final b"CLOSE" means close the connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.heads: list[bytes] = []
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                for chunk in self.script(len(self.heads)):
                    if chunk == b"CLOSE":
                        writer.close()
                        return
                    if chunk:
                        writer.write(chunk)
                        await writer.drain()
                    else:
                        await asyncio.sleep(0.05)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@asynccontextmanager
async def scripted(h: Harness, script: Script) -> AsyncIterator[ScriptedBackend]:
    be = ScriptedBackend(script)
    srv = await asyncio.start_server(be.serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
    objs += [*service("be", [port]), route("r", [{"backendRefs": [backend("be")]}])]
    try:
        await h.start(objs)
        yield be
    finally:
        srv.close()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
                   ) -> tuple[bytes, bytes]:  # fmt: skip
    """Send one request, read one Content-Length-framed response: (head, body)."""
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await asyncio.wait_for(reader.readexactly(length), 5)
    return head, body


def names(head: bytes) -> list[bytes]:
    return [line.partition(b":")[0].strip().lower() for line in head.split(b"\r\n")[1:] if line]


OK = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Up: 1\r\n\r\nok"]


async def test_request_hop_by_hop_headers_are_not_forwarded(h: Harness) -> None:
    async with scripted(h, lambda n: OK) as be:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        request = (b"GET /x?q=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive\r\n"
                   b"Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"
                   b"X-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.1\r\n"
                   b"X-Custom:  kept as is\r\n\r\n")  # fmt: skip
        head, body = await exchange(reader, writer, request)
        assert head.startswith(b"HTTP/1.1 200") and body == b"ok"
        got = be.heads[0]
        assert got.startswith(b"GET /x?q=1 HTTP/1.1\r\n")
        sent = names(got)
        for hop in (b"connection", b"keep-alive", b"te", b"proxy-connection"):
            assert hop not in sent, got
        assert b"\r\nHost: shop.example\r\n" in got
        assert b"\r\nX-Custom:  kept as is\r\n" in got
        assert b"\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n" in got
        assert sent.count(b"x-forwarded-proto") == 1
        assert b"\r\nX-Forwarded-Proto: http\r\n" in got  # the client's claim is replaced
        # the client connection stays usable
        head, body = await exchange(reader, writer, b"GET /y HTTP/1.1\r\nHost: e\r\n\r\n")
        assert body == b"ok" and be.heads[1].startswith(b"GET /y HTTP/1.1\r\n")
        writer.close()


async def test_headers_named_in_connection_are_dropped(h: Harness) -> None:
    async with scripted(h, lambda n: OK) as be:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        request = (b"GET / HTTP/1.1\r\nHost: e\r\nConnection: keep-alive, X-Secret\r\n"
                   b"X-Secret: 1\r\nX-Public: 2\r\n\r\n")  # fmt: skip
        await exchange(reader, writer, request)
        sent = names(be.heads[0])
        assert b"x-secret" not in sent and b"connection" not in sent
        assert b"x-public" in sent
        assert b"\r\nX-Public: 2\r\n" in be.heads[0] and b"X-Secret" not in be.heads[0]
        writer.close()


async def test_response_hop_by_hop_dropped_and_upstream_close_honoured(h: Harness) -> None:
    closing = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
               b"Keep-Alive: timeout=5\r\nX-Up: 1\r\n\r\nok", b"CLOSE"]  # fmt: skip
    async with scripted(h, lambda n: closing) as be:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        for _ in range(3):
            head, body = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and body == b"ok"
            got = names(head)
            assert b"connection" not in got and b"keep-alive" not in got
            assert b"x-up" in got
        # the upstream said close: each request went out on a new connection, none failed
        assert be.connections == 3
        writer.close()


async def test_hop_by_hop_lines_go_from_large_responses_and_in_any_spelling(h: Harness) -> None:
    """A read larger than the quick path splits whole (it searches for the blank line
    first), and header names and values in unusual case and spacing. (Only the quick
    path relays the reason phrase as received; the full one writes the standard one.)"""
    body = b"x" * 5000
    big = [b"HTTP/1.1 200 Fine\r\nconnection:  Keep-Alive \r\ncontent-length: 5000\r\n"
           b"Proxy-Connection: x\r\nTRAILER: y\r\nX-Up: 1\r\n\r\n" + body]  # fmt: skip
    async with scripted(h, lambda n: big) as be:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        for _ in range(2):
            head, got = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
            assert got == body
            assert head.startswith(b"HTTP/1.1 200 Fine\r\n")  # the quick path's relay
            assert names(head) == [b"content-length", b"x-up"]
        assert be.connections == 1  # keep-alive understood: the connection was reused
        writer.close()


async def test_response_body_split_across_reads_and_connection_reused(h: Harness) -> None:
    split = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel", b"", b"lo", b"", b"world"]
    async with scripted(h, lambda n: split) as be:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        for _ in range(2):
            _, body = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
            assert body == b"helloworld"
        assert be.connections == 1
        writer.close()


async def test_upstream_sending_more_than_content_length(h: Harness) -> None:
    async with scripted(h, lambda n: [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE"]
                        ) as be:  # fmt: skip
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        for _ in range(3):
            head, body = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and body == b"ok"
        # the extra bytes are never relayed, and that connection is never reused
        assert be.connections == 3
        writer.write(b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
        more = await asyncio.wait_for(reader.readuntil(b"\r\n\r\nok"), 5)
        assert more.startswith(b"HTTP/1.1 200")
        assert b"GARBAGE" not in more and be.connections == 4
        # and nothing after the answer's two bytes: the next read is the next answer
        head, body = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == b"ok"
        writer.close()


async def test_malformed_upstream_response_is_502(h: Harness) -> None:
    def script(n: int) -> list[bytes]:
        return [b"NOT HTTP AT ALL\r\n\r\n", b"CLOSE"] if n == 1 else OK

    async with scripted(h, script):
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        head, body = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 502")
        # the gateway's own answer: nothing of the bad response reaches the client
        assert head.startswith(b"HTTP/1.1 502 Bad Gateway\r\n") and body == b""
        assert b"NOT HTTP" not in head and b"connection: close" not in head.lower()
        head, body = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == b"ok"
        writer.close()


async def test_connection_close_and_http10_clients(h: Harness) -> None:
    async with scripted(h, lambda n: OK):
        # HTTP/1.1 with Connection: close: answered, marked and closed
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        head, _ = await exchange(reader, writer, b"GET / HTTP/1.1\r\nHost: e\r\n"
                                                 b"Connection: close\r\n\r\n")  # fmt: skip
        assert b"connection: close" in head.lower()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        # HTTP/1.0 without keep-alive: closed after the answer
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        head, _ = await exchange(reader, writer, b"GET / HTTP/1.0\r\nHost: e\r\n\r\n")
        assert b"connection: close" in head.lower()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        # HTTP/1.0 asking for keep-alive: told so (HTTP/1.0 persists only when told), and
        # the connection serves a second request
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        ka = b"GET / HTTP/1.0\r\nHost: e\r\nConnection: Keep-Alive\r\n\r\n"
        for _ in range(2):
            head, body = await exchange(reader, writer, ka)
            assert body == b"ok" and b"\r\nconnection: keep-alive\r\n" in head.lower()
        writer.close()


async def test_h2c_upgrade_is_ignored_and_never_forwarded(h: Harness) -> None:
    """RFC 9113 deprecates h2c by Upgrade; the request is served as HTTP/1.1 and the
    backend never sees the upgrade (it could take the connection out of routing)."""
    async with scripted(h, lambda n: OK) as be:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        upgrade = (b"GET /a HTTP/1.1\r\nHost: e\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                   b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")  # fmt: skip
        # a second request pipelined behind it is parsed as HTTP/1.1 too
        writer.write(upgrade + b"GET /b HTTP/1.1\r\nHost: e\r\n\r\n")
        for _ in range(2):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\nok"), 5)
            assert head.startswith(b"HTTP/1.1 200")
        head, body = await exchange(reader, writer, b"GET /c HTTP/1.1\r\nHost: e\r\n\r\n")
        assert body == b"ok"
        assert [x.split(b" ")[1] for x in be.heads] == [b"/a", b"/b", b"/c"]
        sent = names(be.heads[0])
        assert b"upgrade" not in sent and b"http2-settings" not in sent
        assert b"connection" not in sent
        writer.close()
