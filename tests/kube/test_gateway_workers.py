"""Cluster mode with several worker processes (``rollouts gateway --workers 2`` against
local mode): both workers share the port, the admin port merges their counters, one
process writes status, and "Accepted at generation G" is written only once every worker
serves generation G, so requests made after it follow the new split exactly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from aiohttp import web

from rollouts.kube import names
from rollouts.kube.dataplane import DataPlane
from rollouts.local.server import LocalServer
from rollouts.local.testing import ServerThread
from tests.e2e.conftest import GATEWAY_CRDS, Cluster, eventually
from tests.tools import free_port

ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")


@dataclass
class Api:
    cluster: Cluster
    status_writers: list[str] = field(default_factory=list)  # User-Agent of each write


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """Local mode that remembers who wrote HTTPRoute status."""
    writers: list[str] = []
    make_app = LocalServer.make_app

    def recording_app(self: LocalServer) -> web.Application:
        app = make_app(self)

        @web.middleware
        async def record(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:  # fmt: skip
            if request.method in ("PATCH", "PUT") and "/httproutes/" in request.path \
                    and request.path.endswith("/status"):
                writers.append(request.headers.get("User-Agent", ""))
            return await handler(request)

        app.middlewares.append(record)
        return app

    monkeypatch.setattr(LocalServer, "make_app", recording_app)
    with ServerThread() as server:
        cluster = Cluster(str(server.kubeconfig))
        cluster.apply([yaml.safe_load((GATEWAY_CRDS / f"{name}.yaml").read_text())
                       for name in ("gatewayclasses", "gateways", "httproutes",
                                    "referencegrants", "grpcroutes")])
        yield Api(cluster, writers)


def _listening(port: int) -> int:
    """How many sockets listen on 127.0.0.1:port (one per worker with SO_REUSEPORT)."""
    want = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == want and line.split()[3] == "0A")


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
    return sorted(out)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_port(port: int) -> None:
    def up() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0
    eventually(up, 10, what=f"port {port}")


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    admin: int

    def versions(self, count: int) -> Counter[str]:
        """``count`` requests, each on a new connection (the kernel spreads those)."""
        seen: Counter[str] = Counter()
        for _ in range(count):
            answer = requests.get(f"http://127.0.0.1:{self.port}/", timeout=5,
                                  headers={"Connection": "close"})
            seen[answer.json()["backend"] if answer.ok else str(answer.status_code)] += 1
        return seen

    def requests_total(self) -> int:
        text = requests.get(f"http://127.0.0.1:{self.admin}/metrics", timeout=5).text
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                   if line.startswith("rollouts_gateway_requests_total{"))

    def settled_total(self) -> int:
        """The merged count once the other workers' dumps (every 0.5 s) stop changing."""
        last = -1
        while (now := self.requests_total()) != last:
            last = now
            time.sleep(0.7)
        return last


def _objects(port: int, backends: dict[str, int]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "rollouts"},
         "spec": {"controllerName": names.GATEWAY_CONTROLLER}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw"}, "spec": {"gatewayClassName": "rollouts", "listeners": [
             {"name": "http", "protocol": "HTTP", "port": port}]}}]
    for name, backend_port in backends.items():
        docs += [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
             "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend_port}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": f"{name}-1",
                          "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": backend_port}],
             "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}]
    docs.append({"apiVersion": ROUTE[0], "kind": "HTTPRoute", "metadata": {"name": "web"},
                 "spec": {"parentRefs": [{"name": "gw"}],
                          "rules": [{"backendRefs": _weights(1, 0)}]}})
    return docs


def _weights(v1: int, v2: int) -> list[dict[str, Any]]:
    return [{"name": "v1", "port": 80, "weight": v1}, {"name": "v2", "port": 80, "weight": v2}]


def _accepted_generation(api: Api) -> int | None:
    """The generation our controller accepted the route at (None: not yet, or not us)."""
    route = api.cluster.kube.get(ROUTE, "web", "default")
    ours = [p for p in (route.get("status") or {}).get("parents") or []
            if p.get("controllerName") == names.GATEWAY_CONTROLLER]
    assert len(ours) <= 1, f"conflicting status entries: {ours}"
    for parent in ours:
        for cond in parent.get("conditions") or []:
            if cond["type"] == "Accepted" and cond["status"] == "True":
                return int(cond["observedGeneration"])
    return None


def _set_weights(api: Api, v1: int, v2: int) -> int:
    """Change the split; returns the route's new generation."""
    route = api.cluster.kube.patch(ROUTE, "web", {"spec": {"rules": [
        {"backendRefs": _weights(v1, v2)}]}}, "default")
    return int(route["metadata"]["generation"])


@pytest.fixture
def backends() -> Iterator[dict[str, int]]:
    ports = {"v1": free_port(), "v2": free_port()}
    procs = [subprocess.Popen([sys.executable, "-m", "rollouts.gateway.echo", "--port",
                               str(port), "--name", name]) for name, port in ports.items()]
    try:
        for port in ports.values():
            _wait_port(port)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def _start(api: Api, backends: dict[str, int], workers: int) -> Gateway:
    port, admin = free_port(), free_port()
    api.cluster.apply(_objects(port, backends))
    code = "from rollouts.cli.gateway import gateway; gateway()"
    proc = subprocess.Popen([sys.executable, "-c", code, "--kubeconfig",
                             api.cluster.kubeconfig, "--host", "127.0.0.1", "--admin-port",
                             str(admin), "--workers", str(workers)])  # fmt: skip
    return Gateway(proc, port, admin)


@pytest.fixture
def two_workers(api: Api, backends: dict[str, int]) -> Iterator[Gateway]:
    gw = _start(api, backends, 2)
    try:
        yield gw
    finally:
        if gw.proc.poll() is None:  # the test failed: leave no process behind
            for pid in [*_children(gw.proc.pid), gw.proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            gw.proc.wait(10)


def test_two_workers_serve_one_writes_and_accepted_means_every_worker_serves_it(
        api: Api, two_workers: Gateway) -> None:
    gw = two_workers
    eventually(lambda: _accepted_generation(api) == 1, 15, what="route accepted at 1")
    workers = eventually(lambda: len(c := _children(gw.proc.pid)) == 2 and c, 10,
                         what="two worker processes")
    eventually(lambda: _listening(gw.port) == 2, 10, what="both workers listening")
    eventually(lambda: gw.versions(20) == Counter({"v1": 20}), 10, what="all on v1")

    # (a) fresh connections land on both workers; /metrics counts them all, merged
    before = gw.settled_total()
    assert gw.versions(40) == Counter({"v1": 40})
    eventually(lambda: gw.requests_total() == before + 40, 5,
               what=lambda: f"{before + 40} requests counted, not {gw.requests_total()}")

    # (c) exactly one process wrote status so far: worker 0, one of the two
    (writer,) = set(api.status_writers)
    assert writer.startswith("rollouts-gateway/worker-0 ")
    writer_pid = int(writer.rsplit("pid ", 1)[1].rstrip(")"))
    assert writer_pid in workers
    (other,) = [pid for pid in workers if pid != writer_pid]

    # (b) a worker that has not applied the change holds the status back
    os.kill(other, signal.SIGSTOP)
    try:
        generation = _set_weights(api, 0, 1)
        assert generation == 2
        eventually(lambda: DataPlane.canary_share(DataPlane(
            f"http://127.0.0.1:{gw.admin}").compiled(), "default", "web", "v2", "v1") == 1.0,
            5, what="worker 0 serves the new split")
        time.sleep(1.5)
        assert _accepted_generation(api) == 1, "status written while a worker lags"
    finally:
        os.kill(other, signal.SIGCONT)
    started = time.monotonic()
    eventually(lambda: _accepted_generation(api) == 2, 15, what="route accepted at 2")
    assert time.monotonic() - started < 5, "written on the catch-up timeout, not on catch-up"
    for _ in range(4):  # every batch after "Accepted at 2", on fresh connections
        assert gw.versions(20) == Counter({"v2": 20})

    # a 50/50 split: each worker's weighted round robin alternates exactly, so a batch
    # is within one request per worker of even; a worker still on 0/100 would be far off
    assert _set_weights(api, 1, 1) == 3
    eventually(lambda: _accepted_generation(api) == 3, 15, what="route accepted at 3")
    for _ in range(3):
        seen = gw.versions(40)
        assert set(seen) == {"v1", "v2"} and abs(seen["v1"] - seen["v2"]) <= 2, seen
    config = DataPlane(f"http://127.0.0.1:{gw.admin}").compiled()
    assert DataPlane.canary_share(config, "default", "web", "v2", "v1") == 0.5
    assert set(api.status_writers) == {writer}, "another process wrote status"

    # (d) SIGTERM stops every worker and the ports are released
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(10) == 0
    assert not [pid for pid in workers if _alive(pid)], "a worker outlived the gateway"
    assert _listening(gw.port) == 0


def test_a_crashed_worker_stops_the_gateway_with_an_error(
        api: Api, two_workers: Gateway) -> None:
    gw = two_workers
    workers = eventually(lambda: len(c := _children(gw.proc.pid)) == 2 and c, 10,
                         what="two worker processes")
    eventually(lambda: _listening(gw.port) == 2, 15, what="both workers listening")
    os.kill(workers[1], signal.SIGKILL)
    assert gw.proc.wait(10) != 0
    assert not [pid for pid in workers if _alive(pid)]


def test_workers_do_not_outlive_a_killed_parent(api: Api, two_workers: Gateway) -> None:
    gw = two_workers
    workers = eventually(lambda: len(c := _children(gw.proc.pid)) == 2 and c, 10,
                         what="two worker processes")
    eventually(lambda: _listening(gw.port) == 2, 15, what="both workers listening")
    os.kill(gw.proc.pid, signal.SIGKILL)  # no chance to forward anything
    gw.proc.wait(10)
    try:
        eventually(lambda: not [pid for pid in workers if _alive(pid)], 15,
                   what="the orphaned workers to stop")
        eventually(lambda: _listening(gw.port) == 0, 10, what="the port to be free")
    finally:  # the fixture finds workers through their parent, which is gone
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_one_worker_is_one_process(api: Api, backends: dict[str, int]) -> None:
    gw = _start(api, backends, 1)
    try:
        eventually(lambda: _accepted_generation(api) == 1, 15, what="route accepted at 1")
        assert gw.versions(4) == Counter({"v1": 4})
        assert _children(gw.proc.pid) == [] and _listening(gw.port) == 1
        assert _set_weights(api, 0, 1) == 2
        eventually(lambda: _accepted_generation(api) == 2, 15, what="route accepted at 2")
        assert gw.versions(4) == Counter({"v2": 4})
    finally:
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(10) == 0
