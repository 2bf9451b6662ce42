"""Python-only cost of one proxied exchange, without sockets or other processes.

Drives a ``ClientConn`` and an ``UpstreamConn`` with in-memory transports: a request
goes in, the upstream head comes out, a canned upstream response goes in, the client
response comes out. What is left is exactly the Python work of the hot path, so this is
the figure to watch when tuning it (the wrk benchmark in ``gateway.py`` is far noisier
on a shared machine). Not a test.

    python benchmarks/gateway_micro.py [--n 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from rollouts.gateway.compile import compile_snapshot
from rollouts.gateway.proxy import ClientConn
from rollouts.gateway.server import GatewayServer
from rollouts.gateway.snapshot import build_snapshot
from rollouts.gateway.upstream import UpstreamConn

BROWSER = [
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/126.0 Safari/537.36",
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
    b"Accept-Language: en-US,en;q=0.9,de;q=0.8",
    b"Accept-Encoding: gzip, deflate, br",
    b"Cache-Control: no-cache",
    b"Pragma: no-cache",
    b"Referer: https://app.example.com/dashboard",
    b"Cookie: session=3f2a9c1e7b; theme=dark; _ga=GA1.2.123456789.1700000000",
    b"Sec-Fetch-Dest: document",
    b"Sec-Fetch-Mode: navigate",
    b"Upgrade-Insecure-Requests: 1",
]
REQUESTS = {
    "plain": b"GET /r0/x HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n",
    "browser": b"GET /r0/x HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n"
    + b"".join(h + b"\r\n" for h in BROWSER)
    + b"\r\n",
}
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 21:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 23\r\nConnection: keep-alive\r\n\r\n"
    b"hello from the backend\n"
)


class MemoryTransport:
    """Just enough of asyncio.Transport for the proxy's hot path."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def manifests() -> list[dict[str, Any]]:
    return [
        {"kind": "GatewayClass", "metadata": {"name": "c"},
         "spec": {"controllerName": "rollouts.dev/gateway-controller"}},
        {"kind": "Gateway", "metadata": {"name": "gw"}, "spec": {"gatewayClassName": "c",
         "listeners": [{"name": "h", "port": 18080, "protocol": "HTTP"}]}},
        {"kind": "Service", "metadata": {"name": "be"},
         "spec": {"ports": [{"name": "http", "port": 80}]}},
        {"kind": "EndpointSlice", "metadata": {"name": "be",
         "labels": {"kubernetes.io/service-name": "be"}},
         "ports": [{"name": "http", "port": 18081}],
         "endpoints": [{"addresses": ["127.0.0.1"]}]},
        {"kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/r0/"}}],
                       "backendRefs": [{"name": "be", "port": 80}]}]}},
    ]  # fmt: skip


async def measure(n: int) -> None:
    gw = GatewayServer(host="127.0.0.1")
    gw.state.table, _ = compile_snapshot(build_snapshot(manifests()), gw.registry, 1)
    client = ClientConn(gw.state, 18080, b"http")
    client_t = MemoryTransport()
    client.connection_made(client_t)  # type: ignore[arg-type]
    up = UpstreamConn(gw.pool, ("127.0.0.1", 18081))
    up.connection_made(MemoryTransport())  # type: ignore[arg-type]
    gw.pool.put(up)
    for label, request in REQUESTS.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(n):
                client.data_received(request)
                up.data_received(RESPONSE)
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        assert client_t.written > 0
        print(f"{label:8} {best:6.2f} us of Python per exchange (best of 3 x {n})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    asyncio.run(measure(ap.parse_args().n))


if __name__ == "__main__":
    main()
