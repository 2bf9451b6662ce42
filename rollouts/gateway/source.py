"""The seam between config sources and the data plane, and the status writer's plan.

Why this exists: the gateway never talks to a Kubernetes API itself (only
``rollouts.kube`` does). A watch adapter there feeds raw watch events into an
``ObjectStore``, which keeps the latest object per (kind, namespace, name) and builds
the same immutable Snapshot the directory source builds, so both sources share one
code path. ``status_updates`` turns what the gateway computed into the minimal list of
status writes for the elected writer: only objects whose status actually changed
(ignoring lastTransitionTime churn), each with the resourceVersion it was computed
from so a stale write is rejected by the API server.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from rollouts.api.gatewayapi import CONTROLLER_NAME
from rollouts.gateway.attach import Resolution
from rollouts.gateway.snapshot import Snapshot, build_snapshot
from rollouts.gateway.status import gateway_class_status, gateway_status, route_status

__all__ = [
    "WATCHED_KINDS",
    "ConfigSource",
    "GatewayLike",
    "ObjectStore",
    "StatusUpdate",
    "StatusWriter",
    "follow_events",
    "route_generations",
    "route_key",
    "status_updates",
]

#: (apiVersion, kind) pairs a Kubernetes source must watch
WATCHED_KINDS: tuple[tuple[str, str], ...] = (
    ("gateway.networking.k8s.io/v1", "GatewayClass"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "GRPCRoute"),
    ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
    ("v1", "Service"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("v1", "Secret"),
    ("v1", "Namespace"),
)


class ConfigSource(Protocol):
    """Anything that can produce the current Snapshot (directory, Kubernetes watch)."""

    def snapshot(self) -> Snapshot: ...


class ObjectStore:
    """Latest version of every watched object, fed by watch events."""

    def __init__(self) -> None:
        self._objs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.version = 0  # bumps on every change that can affect the snapshot

    def apply_event(self, event_type: str, obj: dict[str, Any]) -> bool:
        """ADDED / MODIFIED / DELETED (BOOKMARK ignored). True when something changed."""
        meta = obj.get("metadata") or {}
        key = (str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name")))
        if event_type == "DELETED":
            changed = self._objs.pop(key, None) is not None
        elif event_type in ("ADDED", "MODIFIED"):
            old = self._objs.get(key)
            changed = old is None or _spec_view(old) != _spec_view(obj)
            self._objs[key] = obj
        else:
            return False
        if changed:
            self.version += 1
        return changed

    def replace(self, kind: str, objs: Iterable[dict[str, Any]]) -> None:
        """A fresh LIST of one kind (after a watch restart): drop what is gone."""
        fresh = {(kind, str((o.get("metadata") or {}).get("namespace", "")),
                  str((o.get("metadata") or {}).get("name"))): o for o in objs}  # fmt: skip
        for key in [k for k in self._objs if k[0] == kind and k not in fresh]:
            del self._objs[key]
        self._objs.update(fresh)
        self.version += 1

    def raw(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objs.get((kind, namespace, name))

    def snapshot(self) -> Snapshot:
        return build_snapshot(self._objs.values(), source="watch: ")


def _spec_view(obj: dict[str, Any]) -> Any:
    """What matters for routing: everything but status and resourceVersion churn.

    Route status is kept though: the compiler preserves other controllers' entries.
    """
    view = {k: v for k, v in obj.items() if k != "status" or obj.get("kind") in
            ("HTTPRoute", "GRPCRoute")}  # fmt: skip
    meta = dict(view.get("metadata") or {})
    for k in ("resourceVersion", "managedFields"):
        meta.pop(k, None)
    view["metadata"] = meta
    return view


@dataclass(frozen=True)
class StatusUpdate:
    kind: str
    namespace: str | None
    name: str
    resource_version: str | None
    status: dict[str, Any]


def _strip_times(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _strip_times(v) for k, v in x.items() if k != "lastTransitionTime"}
    if isinstance(x, list):
        return [_strip_times(v) for v in x]
    return x


def _merge_status(old: dict[str, Any] | None, ours: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(old or {})
    merged.update(ours)
    return merged


def status_updates(store: ObjectStore, snap: Snapshot, res: Resolution, now: str,
                   addresses: list[str]) -> list[StatusUpdate]:  # fmt: skip
    """Status writes needed now; empty when everything already says what we would say."""
    out: list[StatusUpdate] = []

    def add(kind: str, ns: str | None, name: str, new: dict[str, Any]) -> None:
        raw = store.raw(kind, ns or "", name) or {}
        old = raw.get("status")
        merged = _merge_status(old, new)
        if _strip_times(merged) != _strip_times(old or {}):
            rv = (raw.get("metadata") or {}).get("resourceVersion")
            out.append(StatusUpdate(kind, ns, name, rv, merged))

    for name, gc in sorted(snap.gateway_classes.items()):
        raw = store.raw("GatewayClass", "", name) or {}
        st = gateway_class_status(gc, now, raw.get("status"))
        if st is not None and gc.spec.controller_name == CONTROLLER_NAME:
            add("GatewayClass", None, name, st)
    for (ns, name), gi in sorted(res.gateways.items()):
        raw = store.raw("Gateway", ns, name) or {}
        add("Gateway", ns, name, gateway_status(gi, now, addresses, raw.get("status")))
    for info in res.routes:
        m = info.route.metadata
        add(info.kind, m.namespace, m.name, route_status(info, now, info.route.status))
    return out


ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")


def route_key(kind: str, namespace: str | None, name: str) -> str:
    """How a route is named where workers publish what they serve."""
    return f"{kind} {namespace or ''}/{name}"


def route_generations(res: Resolution) -> dict[str, tuple[str, int]]:
    """The (uid, generation) of every route a compiled table was built from (the uid
    tells a route deleted and created again, whose generation starts over, apart)."""
    return {route_key(info.kind, info.route.metadata.namespace, info.route.metadata.name):
            (info.route.metadata.uid or "", int(info.route.metadata.generation or 0))
            for info in res.routes}  # fmt: skip


class StatusWriter(Protocol):
    """Writes one status (the kube adapter: a PATCH of the status subresource)."""

    async def __call__(self, update: StatusUpdate) -> None: ...


async def follow_events(
    gw: GatewayLike, events: AsyncIterator[tuple[str, dict[str, Any]]],
    write_status: StatusWriter | None = None, is_leader: Callable[[], bool] = lambda: True,
    debounce: float = 0.02, now: Callable[[], str] | None = None,
    settle: Callable[[dict[str, tuple[str, int]]], Awaitable[object]] | None = None,
) -> None:  # fmt: skip
    """Drive a gateway from a stream of watch events until the stream ends.

    Bursts of events are coalesced (``debounce`` seconds) into one snapshot, compiled
    and swapped in. After each swap, when ``write_status`` is given and ``is_leader()``
    says this replica is the elected writer, the status writes that are due are made;
    followers serve traffic from the same snapshots but never write. With several
    worker processes, ``settle`` is awaited first with the generations of the routes
    whose status is about to be written ({route_key: (uid, generation)}): it returns
    once every worker serves at least those, so "Accepted at generation G" is only written
    when no worker still serves an older split.
    """
    store = ObjectStore()
    stamp = now or (lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    applied = store.version
    it = aiter(events)

    async def next_event() -> tuple[str, dict[str, Any]] | None:
        try:
            return await anext(it)
        except StopAsyncIteration:
            return None

    async def apply() -> None:
        nonlocal applied
        applied = store.version
        snap = store.snapshot()
        await gw.apply(snap)
        res = gw.resolution
        if write_status is None or res is None or not is_leader():
            return
        updates = status_updates(store, snap, res, stamp(), gw.addresses())
        if settle is not None:
            served = route_generations(res)
            wanted = {key: served[key] for u in updates if u.kind in ROUTE_KINDS
                      if (key := route_key(u.kind, u.namespace, u.name)) in served}
            if wanted:
                await settle(wanted)
        for update in updates:
            await write_status(update)

    # the pending read is never cancelled: cancelling it would close the event stream
    pending: asyncio.Task[tuple[str, dict[str, Any]] | None] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.get_running_loop().create_task(next_event())
            dirty = store.version != applied
            done, _ = await asyncio.wait({pending}, timeout=debounce if dirty else None)
            if not done:
                await apply()  # quiet for `debounce` seconds: coalesced burst is complete
                continue
            item, pending = pending.result(), None
            if item is None:
                if store.version != applied:
                    await apply()
                return
            store.apply_event(*item)
    finally:
        if pending is not None:  # we are being stopped: the stream ends with us
            pending.cancel()


class GatewayLike(Protocol):
    """The part of GatewayServer that ``follow_events`` needs."""

    resolution: Resolution | None

    async def apply(self, snap: Snapshot) -> Any: ...
    def addresses(self) -> list[str]: ...
