"""A userspace kube-proxy: each Service's cluster IP forwards to its ready endpoints.

For every TCP port of every Service with a cluster IP, a listener on ``clusterIP:port``
accepts connections and relays each one, round-robin, to a ready address of the
Service's EndpointSlices (on the resolved target port). Listeners follow the Services as
they come, change and go. A port that cannot be bound (a privileged port without the
right to it, or one in use) is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging

from rollouts.local.api import Api
from rollouts.local.workloads.base import Controller, Key

__all__ = ["ServiceProxy"]

log = logging.getLogger(__name__)
SVC_KEY = "/services"
SLICE_KEY = "discovery.k8s.io/endpointslices"
Listener = tuple[str, int]  # (cluster IP, port)


class ServiceProxy(Controller):
    primary = SVC_KEY
    watches = (SVC_KEY,)

    def __init__(self, api: Api) -> None:
        super().__init__(api)
        self._servers: dict[Listener, asyncio.Server] = {}
        self._owners: dict[Key, set[Listener]] = {}
        self._turn = itertools.count()

    def reconcile(self, ns: str, name: str) -> float | None:
        svc = self.api.store.peek(SVC_KEY, ns, name)
        spec = (svc or {}).get("spec") or {}
        ip = spec.get("clusterIP")
        wanted: set[Listener] = set()
        if svc is not None and ip and ip != "None":
            wanted = {
                (ip, int(p["port"]))
                for p in spec.get("ports") or []
                if p.get("protocol", "TCP") == "TCP" and isinstance(p.get("port"), int)
            }
        current = self._owners.get((ns, name), set())
        for listener in current - wanted:
            server = self._servers.pop(listener, None)
            if server is not None:
                server.close()
        missing = wanted - set(self._servers)
        self._owners[(ns, name)] = wanted
        if missing:
            asyncio.get_running_loop().create_task(self._listen((ns, name), missing))
        return None

    async def _listen(self, key: Key, listeners: set[Listener]) -> None:
        for ip, port in listeners:
            if (ip, port) in self._servers:
                continue
            try:
                server = await asyncio.start_server(
                    functools.partial(self._relay, key, port), ip, port
                )
            except OSError as exc:
                log.warning("service %s/%s: cannot listen on %s:%s: %s", *key, ip, port, exc)
                continue
            self._servers[(ip, port)] = server

    def _backend(self, key: Key, port: int) -> tuple[str, int] | None:
        ns, name = key
        svc = self.api.store.peek(SVC_KEY, ns, name) or {}
        svc_port = next(
            (p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("port") == port), None
        )
        if svc_port is None:
            return None
        choices: list[tuple[str, int]] = []
        for es in self.api.store.items(SLICE_KEY, ns):
            if (es["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != name:
                continue
            target = next(
                (
                    p.get("port")
                    for p in es.get("ports") or []
                    if p.get("name", "") == svc_port.get("name", "")
                ),
                None,
            )
            if not isinstance(target, int):
                continue
            for ep in es.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready"):
                    choices += [(addr, target) for addr in ep.get("addresses") or []]
        if not choices:
            return None
        return choices[next(self._turn) % len(choices)]

    async def _relay(
        self, key: Key, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        backend = self._backend(key, port)
        if backend is None:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*backend)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for w in (writer, up_writer):
            with contextlib.suppress(OSError, RuntimeError):
                w.close()

    async def stop(self) -> None:
        await super().stop()
        for server in self._servers.values():
            server.close()
        for server in list(self._servers.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof():
                dst.write_eof()
            else:
                dst.close()
