"""Two minimal reverse proxies that bound what any uvloop-based proxy can reach here.

Why this exists: the gateway benchmark compares us with nginx, and the issue's goal was
set against "a bare uvloop + httptools proxy". Measuring that proxy (and an even barer
one) in the same run, on the same machine, shows how much of the gap to nginx is the
event loop and the syscalls, which no Python code can remove, and how much is ours.
Neither is a usable proxy (one backend, no routing, no limits, no error handling).

    python benchmarks/reference_proxies.py bare|raw LISTEN_PORT BACKEND_PORT

- ``bare``: httptools parses both directions with per-header callbacks, forwards the
  headers and adds X-Forwarded-For; keep-alive pool to the backend.
- ``raw``: forwards bytes as they come, no parsing at all; it relies on each read
  holding exactly one request or one response, which holds for wrk against nginx.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httptools
import uvloop

idle: list[Any] = []


class BareUpstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.client: BareClient | None = None
        self.headers: list[bytes] = []
        self.out: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() != b"connection":
            self.headers.append(name + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        self.out.append(b"HTTP/1.1 %d OK\r\n" % status + b"".join(self.headers) + b"\r\n")
        self.headers = []

    def on_body(self, body: bytes) -> None:
        self.out.append(body)

    def on_message_complete(self) -> None:
        client, self.client = self.client, None
        if client is not None and not client.transport.is_closing():
            client.transport.write(b"".join(self.out))
        self.out = []
        idle.append(self)


class BareClient(asyncio.Protocol):
    def __init__(self, backend: tuple[str, int]) -> None:
        self.backend = backend
        self.parser = httptools.HttpRequestParser(self)
        self.headers: list[bytes] = []
        self.url = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append(name + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        head = (self.parser.get_method() + b" " + self.url + b" HTTP/1.1\r\n"
                + b"".join(self.headers) + b"X-Forwarded-For: 127.0.0.1\r\n\r\n")  # fmt: skip
        self.headers, self.url = [], b""
        if idle:
            up = idle.pop()
            up.client = self
            up.transport.write(head)
        else:
            asyncio.get_running_loop().create_task(self.connect(head))

    async def connect(self, head: bytes) -> None:
        _, up = await asyncio.get_running_loop().create_connection(BareUpstream, *self.backend)
        up.client = self
        up.transport.write(head)


class RawUpstream(asyncio.Protocol):
    client: RawClient | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        client, self.client = self.client, None
        if client is not None and not client.transport.is_closing():
            client.transport.write(data)
        idle.append(self)


class RawClient(asyncio.Protocol):
    def __init__(self, backend: tuple[str, int]) -> None:
        self.backend = backend

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if idle:
            up = idle.pop()
            up.client = self
            up.transport.write(data)
        else:
            asyncio.get_running_loop().create_task(self.connect(data))

    async def connect(self, data: bytes) -> None:
        _, up = await asyncio.get_running_loop().create_connection(RawUpstream, *self.backend)
        up.client = self
        up.transport.write(data)


async def serve(kind: str, port: int, backend: tuple[str, int]) -> None:
    client = {"bare": BareClient, "raw": RawClient}[kind]
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: client(backend), "127.0.0.1", port)
    await asyncio.Event().wait()


def main() -> None:
    kind, port, backend = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if kind not in ("bare", "raw"):
        sys.exit(f"unknown reference proxy {kind!r}: bare or raw")
    uvloop.run(serve(kind, port, ("127.0.0.1", backend)))


if __name__ == "__main__":
    main()
