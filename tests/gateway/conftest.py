"""Shared fixtures: echo backends, manifest builders and an in-process gateway."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from rollouts.gateway.echo import start_echo
from rollouts.gateway.http1 import Limits
from rollouts.gateway.server import GatewayServer
from rollouts.gateway.snapshot import Snapshot, build_snapshot
from rollouts.gateway.source import StatusUpdate

CLASS = "rollouts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_class(name: str = CLASS, controller: str = "rollouts.dev/gateway-controller"
                  ) -> dict[str, Any]:  # fmt: skip
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": name}, "spec": {"controllerName": controller}}  # fmt: skip


def listener(name: str, port: int, hostname: str | None = None, protocol: str = "HTTP",
             **extra: Any) -> dict[str, Any]:  # fmt: skip
    lis: dict[str, Any] = {"name": name, "port": port, "protocol": protocol}
    if hostname:
        lis["hostname"] = hostname
    lis.update(extra)
    return lis


def gateway(name: str, listeners: list[dict[str, Any]], ns: str = "default",
            cls: str = CLASS, generation: int = 1) -> dict[str, Any]:  # fmt: skip
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": ns, "generation": generation},
            "spec": {"gatewayClassName": cls, "listeners": listeners}}  # fmt: skip


def service(name: str, endpoints: list[int], ns: str = "default", port: int = 80,
            ready: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """A Service plus its EndpointSlice (endpoints are local ports)."""
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"ports": [{"name": "http", "port": port, "targetPort": 8080}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-1", "namespace": ns,
                      "labels": {"kubernetes.io/service-name": name}},
         "addressType": "IPv4",
         "ports": [{"name": "http", "port": p} for p in endpoints[:1]],
         "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": ready}}]
         if endpoints else []},
    ]  # fmt: skip


def backend(name: str, weight: int | None = None, port: int = 80, **extra: Any
            ) -> dict[str, Any]:  # fmt: skip
    b: dict[str, Any] = {"name": name, "port": port}
    if weight is not None:
        b["weight"] = weight
    b.update(extra)
    return b


def route(name: str, rules: list[dict[str, Any]], hostnames: list[str] | None = None,
          parents: list[dict[str, Any]] | None = None, ns: str = "default",
          created: str | None = None, kind: str = "HTTPRoute", generation: int = 1,
          ) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {"name": name, "namespace": ns, "generation": generation}
    if created:
        meta["creationTimestamp"] = created
    spec: dict[str, Any] = {"parentRefs": parents or [{"name": "gw"}], "rules": rules}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind, "metadata": meta,
            "spec": spec}  # fmt: skip


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def backend(self) -> str | None:
        return self.headers.get("x-backend")


class Harness:
    """Echo backends (by name) and a gateway, all in the test's event loop."""

    def __init__(self) -> None:
        self.backends: dict[str, tuple[asyncio.Server, int]] = {}
        self.gw: GatewayServer | None = None
        self.port = free_port()
        self.session: aiohttp.ClientSession | None = None

    async def echo(self, *names: str) -> list[int]:
        ports = []
        for n in names:
            srv = await start_echo(n)
            port = srv.sockets[0].getsockname()[1]
            self.backends[n] = (srv, port)
            ports.append(port)
        return ports

    def svc(self, name: str, ns: str = "default", ready: bool = True) -> list[dict[str, Any]]:
        """Service ``name`` backed by the echo backend of the same name."""
        return service(name, [self.backends[name][1]], ns=ns, ready=ready)

    async def start(self, objs: list[dict[str, Any]], limits: Limits | None = None,
                    admin_port: int | None = None) -> Snapshot:  # fmt: skip
        self.gw = GatewayServer(host="127.0.0.1", admin_port=admin_port, limits=limits,
                                sweep_interval=0.05)  # fmt: skip
        await self.gw.start()
        return await self.apply(objs)

    async def apply(self, objs: list[dict[str, Any]]) -> Snapshot:
        assert self.gw is not None
        snap = build_snapshot(objs)
        await self.gw.apply(snap)
        return snap

    async def request(self, path: str = "/", host: str = "example.com", method: str = "GET",
                      headers: dict[str, str] | None = None, port: int | None = None,
                      data: bytes | None = None) -> Reply:  # fmt: skip
        if self.session is None:
            self.session = aiohttp.ClientSession(auto_decompress=False)
        h = {"Host": host, **(headers or {})}
        url = f"http://127.0.0.1:{port or self.port}{path}"
        async with self.session.request(method, url, headers=h, data=data,
                                        allow_redirects=False) as resp:  # fmt: skip
            body = await resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.gw is not None:
            await self.gw.close()
        for srv, _ in self.backends.values():
            srv.close()


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    try:
        yield harness
    finally:
        await harness.close()


def basic(h: Harness, rules: list[dict[str, Any]], hostname: str | None = None,
          hostnames: list[str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """GatewayClass + one HTTP listener + one route + a Service per echo backend."""
    objs = [gateway_class(), gateway("gw", [listener("http", h.port, hostname)])]
    for name in h.backends:
        objs += h.svc(name)
    objs.append(route("r", rules, hostnames))
    return objs


class EventFeed:
    """A hand-fed event stream for ``follow_events``, and the status it writes."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        self.written: list[StatusUpdate] = []

    async def events(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        while (item := await self.queue.get()) is not None:
            yield item

    async def writer(self, update: StatusUpdate) -> None:
        self.written.append(update)


class MemoryTransport:
    """Just enough of an asyncio transport; remembers what was written."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass
