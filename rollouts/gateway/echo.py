"""A small, fast echo backend: says who answered and what it received.

Why this exists: tests, examples and demos need a backend whose answer proves which
backendRef a request went to and what the gateway did to it (rewritten path, added
headers, X-Forwarded-For). ``GET /status/503`` answers that status, ``/delay/250``
answers after 250 ms. Run it with ``python -m rollouts.gateway.echo --port 8081 --name v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, cast

import httptools

__all__ = ["EchoProtocol", "start_echo"]


class EchoProtocol(asyncio.Protocol):
    def __init__(self, name: str) -> None:
        self.name = name
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += len(body)

    def on_message_complete(self) -> None:
        u = httptools.parse_url(self.url)
        path = u.path.decode("latin-1")
        info: dict[str, Any] = {
            "backend": self.name,
            "method": self.parser.get_method().decode(),
            "path": path,
            "query": (u.query or b"").decode("latin-1"),
            "headers": {k.lower(): v for k, v in self.headers},
            "bodyBytes": self.body,
        }
        keep = self.parser.should_keep_alive()
        status, delay = 200, 0.0
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
            status = int(parts[1])
        if len(parts) == 2 and parts[0] == "delay" and parts[1].isdigit():
            delay = int(parts[1]) / 1000
        body = json.dumps(info).encode()
        resp = (b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\nx-backend: %s\r\n"
                b"content-length: %d\r\n%s\r\n" % (status, self.name.encode(), len(body),
                b"" if keep else b"connection: close\r\n")) + body  # fmt: skip
        self._reset()
        if delay:
            asyncio.get_running_loop().call_later(delay, self._send, resp, keep)
        else:
            self._send(resp, keep)

    def _send(self, resp: bytes, keep: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(resp)
            if not keep:
                self.transport.close()


async def start_echo(name: str, port: int = 0, host: str = "127.0.0.1") -> asyncio.Server:
    """Start an echo server in the running loop; port 0 picks a free port."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: EchoProtocol(name), host, port)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="echo")
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()

    async def go() -> None:
        srv = await start_echo(args.name, args.port, args.host)
        await srv.serve_forever()

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(go())


if __name__ == "__main__":
    main()
