"""Running the operator: leader election, then kopf with our handlers until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

import kopf

from rollouts.kube.api import Kube
from rollouts.kube.dataplane import DataPlane
from rollouts.kube.handlers import Operator
from rollouts.kube.leader import LeaderElector

__all__ = ["connection_info", "run_operator"]

log = logging.getLogger(__name__)


async def run_operator(kube: Kube, *, namespaces: Sequence[str] = (),
                       elector: LeaderElector | None = None,
                       stop: threading.Event | asyncio.Event | None = None,
                       gateway_admin: str | None = None) -> None:
    """Reconcile Rollouts (in ``namespaces``, or all) until ``stop`` is set.

    ``gateway_admin``: our gateway's admin address; routes it serves are verified
    against the table it is serving too.
    """
    if elector is not None:
        log.info("waiting for leadership (Lease %s/%s) as %s", elector.namespace, elector.name,
                 elector.identity)
        await elector.acquire()
        log.info("leading as %s", elector.identity)
    registry = kopf.OperatorRegistry()
    operator = Operator(kube, DataPlane(gateway_admin) if gateway_admin else None)
    operator.register(registry)
    info = connection_info(kube)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return info

    settings = kopf.OperatorSettings()
    settings.posting.enabled = False
    settings.watching.server_timeout = 60
    settings.watching.reconnect_backoff = 1.0
    kopf_stop: asyncio.Event = asyncio.Event()
    kopf_task = asyncio.create_task(kopf.operator(
        registry=registry, settings=settings, standalone=True,
        clusterwide=not namespaces, namespaces=list(namespaces), stop_flag=kopf_stop),
        name="kopf")
    watchers = []
    if elector is not None:
        watchers.append(asyncio.create_task(elector.hold(), name="lease"))
    if stop is not None:
        watchers.append(asyncio.create_task(_wait(stop), name="stop"))
    try:
        await asyncio.wait([kopf_task, *watchers], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in watchers:
            task.cancel()
        await operator.close()
        kopf_stop.set()  # kopf stops its watchers and handlers gracefully
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(kopf_task, timeout=20)
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if elector is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(elector.release)


def connection_info(kube: Kube) -> kopf.ConnectionInfo:
    """kopf logs in to the very cluster our own client uses."""
    cfg = kube.api_client.configuration
    token = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
    scheme = None
    if token and " " in token:
        scheme, token = token.split(" ", 1)
    return kopf.ConnectionInfo(
        server=cfg.host, ca_path=cfg.ssl_ca_cert, insecure=not cfg.verify_ssl,
        scheme=scheme, token=token, certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file, username=cfg.username or None,
        password=cfg.password or None)


async def _wait(flag: threading.Event | asyncio.Event) -> None:
    if isinstance(flag, asyncio.Event):
        await flag.wait()
        return
    while not flag.is_set():
        await asyncio.sleep(0.2)
