"""One gateway worker: owns the listening sockets, the current table and the admin port.

Why this exists: it is the seam between config sources and the data plane. ``apply``
compiles a Snapshot, swaps the table reference in one assignment (requests in flight
keep the objects they already hold; new requests see the new table), opens sockets
for new ports and closes sockets of ports no longer configured. A sweeper closes idle
and slow clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from rollouts.gateway.admin import admin_app
from rollouts.gateway.attach import Resolution
from rollouts.gateway.compile import compile_snapshot
from rollouts.gateway.http1 import Limits
from rollouts.gateway.metrics import Registry
from rollouts.gateway.mirror import Mirrorer
from rollouts.gateway.proxy import ClientConn
from rollouts.gateway.snapshot import Snapshot
from rollouts.gateway.source import route_generations
from rollouts.gateway.state import ProxyState
from rollouts.gateway.status import gateway_class_status, gateway_status, route_status
from rollouts.gateway.table import RoutingTable
from rollouts.gateway.tls import TLSStore
from rollouts.gateway.upstream import Pool

__all__ = ["GatewayServer"]

log = logging.getLogger(__name__)


class GatewayServer:
    def __init__(
        self, host: str = "0.0.0.0", admin_port: int | None = None,
        limits: Limits | None = None, reuse_port: bool = False,
        admin_host: str = "127.0.0.1", stats_dir: str | None = None,
        sweep_interval: float = 1.0, worker: int = 0,
    ) -> None:  # fmt: skip
        self.loop = asyncio.get_running_loop()
        self.host = host
        self.admin_host = admin_host
        self.admin_port = admin_port
        self.reuse_port = reuse_port
        self.stats_dir = stats_dir  # several workers: where they publish their counters
        self.worker = worker  # this worker's index (0 serves the admin port)
        self.sweep_interval = sweep_interval  # granularity of the idle/slow/silent timeouts
        self.registry = Registry()
        self.pool = Pool(self.loop)
        self.tls = TLSStore()
        self.state = ProxyState(RoutingTable(0, {}), self.registry, self.pool,
                                limits or Limits(), Mirrorer(self.loop))  # fmt: skip
        self.servers: dict[int, tuple[str, asyncio.Server]] = {}
        self.snapshot = Snapshot()
        self.resolution: Resolution | None = None
        self.ready = False
        self.bind_errors: dict[int, str] = {}  # ports configured but not bound: not ready
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.admin_port is not None:
            self._runner = web.AppRunner(admin_app(self), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.admin_host, self.admin_port,
                               reuse_port=self.reuse_port)  # fmt: skip
            await site.start()
        self._sweeper = self.loop.create_task(self._sweep())

    async def apply(self, snap: Snapshot) -> RoutingTable:
        """Compile and swap in a new configuration; returns the table now serving."""
        gen = self.state.table.generation + 1
        table, res = compile_snapshot(snap, self.registry, gen)
        self.tls.update(res)
        self.snapshot, self.resolution = snap, res
        self.state.table = table  # the atomic swap
        self.registry.config_generation = gen
        if self.stats_dir is not None:
            self._publish_serving(route_generations(res))
        for err in snap.errors:
            log.warning("config: %s", err)
        await self._sync_listeners(table)
        self.ready = True
        return table

    def _publish_serving(self, routes: dict[str, tuple[str, int]]) -> None:
        """Tell the status writer (worker 0) which route generations this worker serves."""
        assert self.stats_dir is not None
        path = Path(self.stats_dir) / f"serving-{self.worker}.json"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(routes))
            os.replace(tmp, path)
        except OSError as exc:  # the writer then waits until its timeout and says so
            log.warning("cannot publish the served routes in %s: %s", self.stats_dir, exc)

    def serving(self, workers: int) -> dict[int, dict[str, tuple[str, int]]]:
        """Route (uid, generation) each worker has published (not heard from: absent)."""
        out: dict[int, dict[str, tuple[str, int]]] = {}
        for i in range(workers):
            path = Path(self.stats_dir or ".") / f"serving-{i}.json"
            try:
                out[i] = {str(k): (str(v[0]), int(v[1]))
                          for k, v in json.loads(path.read_text()).items()}  # fmt: skip
            except (OSError, ValueError, AttributeError, TypeError, IndexError):
                continue
        return out

    def lagging(self, routes: dict[str, tuple[str, int]], workers: int) -> list[str]:
        """Workers (as "worker N: route") not yet serving ``routes`` at these generations."""
        if self.stats_dir is None or workers <= 1:
            return []
        serving = self.serving(workers)
        late = []
        for i in range(workers):
            have = serving.get(i)
            if have is None:
                late.append(f"worker {i}: nothing yet")
                continue
            for key, (uid, gen) in sorted(routes.items()):
                their_uid, their_gen = have.get(key, ("", -1))
                if their_uid != uid:
                    late.append(f"worker {i}: {key} not served as object {uid} yet"
                                + (f" (still {their_uid})" if their_uid else ""))
                elif their_gen < gen:
                    late.append(f"worker {i}: {key} at generation {their_gen}, not {gen}")
        return late

    async def wait_for_workers(self, routes: dict[str, tuple[str, int]], workers: int,
                               timeout: float = 10.0, every: float = 0.01) -> bool:
        """Wait until every worker serves at least these route generations.

        True when they all do; False (logged) after ``timeout``, a fallback so that a
        stuck worker cannot hold every status write back forever.
        """
        deadline = self.loop.time() + timeout
        while late := self.lagging(routes, workers):
            if self.loop.time() >= deadline:
                log.warning("workers have not caught up after %.1fs, writing status "
                            "anyway: %s", timeout, "; ".join(late[:5]))  # fmt: skip
                return False
            await asyncio.sleep(every)
        return True

    async def _sync_listeners(self, table: RoutingTable) -> None:
        for port, (scheme, srv) in list(self.servers.items()):
            pt = table.ports.get(port)
            if pt is None or pt.scheme != scheme:
                srv.close()
                del self.servers[port]
        for port, pt in table.ports.items():
            if port in self.servers:
                continue
            ssl_ctx = self.tls.context_for(port) if pt.scheme == "https" else None
            if pt.scheme == "https" and ssl_ctx is None:
                continue
            try:
                srv = await self.loop.create_server(
                    self._factory(port, pt.scheme.encode()),
                    self.host, port, reuse_port=self.reuse_port or None, backlog=1024,
                    ssl=ssl_ctx, family=socket.AF_INET if ":" not in self.host else 0,
                )  # fmt: skip
            except OSError as exc:
                log.error("cannot listen on %s:%s: %s", self.host, port, exc)
                self.bind_errors[port] = str(exc)
                continue
            self.bind_errors.pop(port, None)
            self.servers[port] = (pt.scheme, srv)
        for port in list(self.bind_errors):
            if port not in table.ports:
                del self.bind_errors[port]

    def _factory(self, port: int, scheme: bytes) -> Callable[[], asyncio.Protocol]:
        return lambda: cast(asyncio.Protocol, ClientConn(self.state, port, scheme))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            now = self.loop.time()
            for c in list(self.state.conns):
                c.expire(now)

    def all_workers(self) -> Registry:
        """This worker's counters merged with the latest dumps of the other workers."""
        if self.stats_dir is None:
            return self.registry
        others = []
        for f in sorted(Path(self.stats_dir).glob("worker-*.json")):
            try:
                others.append(json.loads(f.read_text()))
            except (OSError, ValueError):
                continue  # a worker that is rewriting its file: next scrape gets it
        return self.registry.merged(others)

    async def dump_forever(self, index: int, interval: float = 0.5) -> None:
        """Workers other than 0 publish their counters for worker 0's admin port."""
        assert self.stats_dir is not None
        path = Path(self.stats_dir) / f"worker-{index}.json"
        tmp = path.with_suffix(".tmp")
        while True:
            tmp.write_text(json.dumps(self.registry.dump()))
            os.replace(tmp, path)
            await asyncio.sleep(interval)

    def addresses(self) -> list[str]:
        """What Gateway.status.addresses reports: the bind address unless it is a wildcard."""
        return [self.host] if self.host not in ("0.0.0.0", "::", "") else []

    def status_report(self, now: datetime | None = None) -> dict[str, Any]:
        """Status of every object we own, as the elected writer would write it."""
        stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        snap, res = self.snapshot, self.resolution
        out: dict[str, Any] = {"gatewayClasses": {}, "gateways": {}, "routes": {}}
        for name, gc in snap.gateway_classes.items():
            st = gateway_class_status(gc, stamp)
            if st is not None:
                out["gatewayClasses"][name] = st
        if res is None:
            return out
        addrs = self.addresses()
        for (ns, name), gi in res.gateways.items():
            out["gateways"][f"{ns}/{name}"] = gateway_status(gi, stamp, addrs)
        for info in res.routes:
            out["routes"][f"{info.kind} {info.label}"] = route_status(
                info, stamp, info.route.status
            )
        return out

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for _, srv in self.servers.values():
            srv.close()
        for c in list(self.state.conns):
            c.close()
        self.servers.clear()
        self.pool.close()
        if self.state.h2pool is not None:
            self.state.h2pool.close()
        await self.state.mirrorer.drain() if self.state.mirrorer else None
        if self._runner is not None:
            await self._runner.cleanup()
