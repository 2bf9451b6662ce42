"""The embedded API server as one object: storage, API, HTTP listener, collectors.

:class:`LocalServer` binds to a loopback address only (unless ``allow_non_loopback``),
serves the Kubernetes REST API with aiohttp, runs the garbage collector, and can write a
kubeconfig for kubectl and the kubernetes client. With a ``data_dir`` its objects are kept
in ``DATA_DIR/state.db`` (SQLite); without one they live in memory.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import random
from pathlib import Path
from typing import IO, Any

import yaml
from aiohttp import web

from rollouts.local.api import Api
from rollouts.local.gc import GarbageCollector
from rollouts.local.http import ApiHandler
from rollouts.local.store import Store
from rollouts.local.workloads import WorkloadManager

__all__ = ["LocalServer", "is_loopback", "kubeconfig_dict"]

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def kubeconfig_dict(server_url: str, name: str = "rollouts-local") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server_url}}],
        "users": [{"name": name, "user": {}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}
        ],
        "current-context": name,
        "preferences": {},
    }


class LocalServer:
    """A running embedded API server (start with :meth:`start`, stop with :meth:`stop`)."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_non_loopback: bool = False,
        bookmark_interval: float = 60.0,
        gc_interval: float = 2.0,
        watch_log_size: int = 20000,
        workloads: bool = False,
        max_grace: float = 30.0,
        ip_octet: int | None = None,
    ) -> None:
        if not allow_non_loopback and not is_loopback(host):
            raise ValueError(
                f"refusing to bind {host}: the local API server has no authentication and only "
                "binds loopback addresses unless told to (allow_non_loopback)"
            )
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.host = host
        self.port = port
        self._lock: IO[str] | None = None
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock = _lock_data_dir(self.data_dir)
            self.store = Store(self.data_dir / "state.db", log_size=watch_log_size)
        else:
            self.store = Store(log_size=watch_log_size)
        self.api = Api(self.store)
        # Pods and Services get 127.N.x.y. A server with a data directory uses N=1, so its
        # pods keep their addresses across restarts; in-memory servers (tests) pick N at
        # random so that several on one machine rarely meet.
        if ip_octet is None:
            ip_octet = 1 if self.data_dir is not None else random.randint(16, 250)
        if not 1 <= ip_octet <= 254:
            raise ValueError(f"ip_octet must be between 1 and 254, not {ip_octet}")
        self.api.ip_prefix = f"127.{ip_octet}."
        self.handler = ApiHandler(self.api, bookmark_interval=bookmark_interval)
        self.gc = GarbageCollector(self.api, interval=gc_interval)
        self.workloads: WorkloadManager | None = None
        if workloads:
            log_dir = self.data_dir / "pods" if self.data_dir is not None else None
            self.workloads = WorkloadManager(self.api, log_dir=log_dir, max_grace=max_grace)
            self.handler.kubelet = self.workloads.kubelet
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handler.handle)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        self.gc.start()
        if self.workloads is not None:
            self.workloads.start()
        log.info("local API server listening on %s", self.url)

    async def stop(self) -> None:
        if self.workloads is not None:
            await self.workloads.stop()
        await self.gc.stop()
        self.store.end_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.store.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def write_kubeconfig(self, path: str | Path | None = None) -> Path:
        if path is None:
            if self.data_dir is None:
                raise ValueError("no data directory: give the kubeconfig path")
            path = self.data_dir / "kubeconfig"
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(kubeconfig_dict(self.url), sort_keys=False))
        return target


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on the data directory for the server's lifetime."""
    handle = open(data_dir / "lock", "w")  # noqa: SIM115 - held until stop()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ValueError(
            f"{data_dir} is in use by another local control plane (stop it first, or use "
            "another --data-dir)"
        ) from None
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
