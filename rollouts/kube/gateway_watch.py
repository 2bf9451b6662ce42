"""The gateway's Kubernetes config source: list and watch what the data plane serves,
feed the events to ``rollouts.gateway.source.follow_events``, write status as the
elected replica.

The gateway itself never talks to an API (layers); this module does, with the same
client as the operator. Each kind is watched in a thread (the kubernetes client is
synchronous) that lists first, then watches from the list's resourceVersion and lists
again after a 410 Gone or a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from rollouts.gateway.http1 import Limits
from rollouts.gateway.server import GatewayServer
from rollouts.gateway.source import WATCHED_KINDS, StatusUpdate, follow_events
from rollouts.kube.api import ApiError, Conflict, Kube, NotFound
from rollouts.kube.leader import LeaderElector
from rollouts.kube.names import Kind

__all__ = ["serve_cluster", "watch_events"]

log = logging.getLogger(__name__)
Event = tuple[str, dict[str, Any]]


def _watch_kind(kube: Kube, kind: Kind, push: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            resource = kube.resource(kind)
        except ApiError as error:  # the CRD is not installed (yet): look again later
            log.debug("cannot watch %s: %s", kind[1], error)
            stop.wait(5)
            continue
        try:
            listing = resource.get()
            version = listing.metadata.resourceVersion
            for item in listing.to_dict().get("items") or []:
                item.setdefault("apiVersion", kind[0])
                item.setdefault("kind", kind[1])
                push(("ADDED", item))
            while not stop.is_set():
                for event in resource.watch(resource_version=version, timeout=5):
                    if stop.is_set():
                        return
                    raw = event.get("raw_object") or {}
                    if event.get("type") == "ERROR":
                        raise ApiError(str(raw.get("message")), int(raw.get("code") or 0))
                    version = (raw.get("metadata") or {}).get("resourceVersion", version)
                    push((event["type"], raw))
        except Exception as error:  # relist on 410 Gone, a dropped stream, anything
            log.debug("watch of %s restarts: %s", kind[1], error)
            stop.wait(0.5)


async def watch_events(kube: Kube, stop: threading.Event) -> AsyncIterator[Event]:
    """Every watched kind's events, as one stream, until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue()

    def push(event: Event) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(queue.put_nowait, event)

    threads = [threading.Thread(target=_watch_kind, args=(kube, kind, push, stop),
                                daemon=True, name=f"watch {kind[1]}")
               for kind in WATCHED_KINDS]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set():
            try:
                yield await asyncio.wait_for(queue.get(), timeout=0.5)
            except TimeoutError:
                continue
    finally:
        stop.set()
        for thread in threads:
            await asyncio.to_thread(thread.join, 10)


def _status_writer(kube: Kube) -> Any:
    kinds = {kind: (api_version, kind) for api_version, kind in WATCHED_KINDS}

    async def write(update: StatusUpdate) -> None:
        patch = {"metadata": {"resourceVersion": update.resource_version},
                 "status": update.status}
        try:
            await asyncio.to_thread(kube.patch, kinds[update.kind], update.name, patch,
                                    update.namespace, status=True)
        except (Conflict, NotFound):
            pass  # the object changed or went away: the next event brings it again
        except ApiError as error:
            log.warning("status of %s %s/%s: %s", update.kind, update.namespace,
                        update.name, error)
    return write


async def serve_cluster(kube: Kube, *, host: str = "0.0.0.0", admin_port: int | None = 9901,
                        admin_host: str = "127.0.0.1", elector: LeaderElector | None = None,
                        stop: asyncio.Event | None = None, limits: Limits | None = None,
                        worker: int = 0, workers: int = 1, stats_dir: str | None = None,
                        catch_up_timeout: float = 10.0) -> None:
    """Serve the cluster's Gateways and routes until ``stop`` is set.

    With several worker processes (``workers`` > 1, each calling this with its own
    ``worker`` index and the shared ``stats_dir``), every worker watches the API and
    compiles its own table; they share the listening ports (SO_REUSEPORT). Only worker
    0 serves the admin port (merging the others' counters), takes part in the leader
    election and writes status, and it writes a route's status only once every worker
    publishes that it serves that route's generation (or after ``catch_up_timeout``,
    with a warning).
    """
    several = workers > 1 and stats_dir is not None
    gateway = GatewayServer(host=host, admin_port=admin_port if worker == 0 else None,
                            admin_host=admin_host, limits=limits, reuse_port=several,
                            stats_dir=stats_dir if several else None, worker=worker)
    await gateway.start()
    halt = threading.Event()
    writes = worker == 0
    if not writes:
        elector = None  # the other workers never write, so they never hold the Lease
    leading = elector is None

    async def lead() -> None:
        nonlocal leading
        assert elector is not None
        while True:
            leading = await asyncio.to_thread(elector.try_acquire)
            await asyncio.sleep(max(elector.lease_seconds / 3, 0.5))

    async def settle(routes: dict[str, tuple[str, int]]) -> None:
        await gateway.wait_for_workers(routes, workers, catch_up_timeout)

    events = watch_events(kube, halt)
    tasks = [asyncio.create_task(follow_events(
        gateway, events, _status_writer(kube) if writes else None, lambda: leading,
        settle=settle if several else None))]
    if elector is not None:
        tasks.append(asyncio.create_task(lead()))
    if several and worker > 0:
        tasks.append(asyncio.create_task(gateway.dump_forever(worker)))
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        halt.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
        await gateway.close()
