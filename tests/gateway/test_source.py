"""The watch-event seam and the status writer's plan (pure, no cluster)."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from typing import Any

from rollouts.gateway.compile import compile_snapshot
from rollouts.gateway.source import ObjectStore, follow_events, status_updates

from .conftest import EventFeed, Harness, backend, gateway, gateway_class, listener, route, service


def grant() -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": "g", "namespace": "other", "resourceVersion": "1"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                               "namespace": "default"}],
                     "to": [{"group": "", "kind": "Service"}]}}  # fmt: skip


def plan(store: ObjectStore, now: str = "2026-01-01T00:00:00Z") -> list[Any]:
    snap = store.snapshot()
    _, res = compile_snapshot(snap)
    return status_updates(store, snap, res, now, ["10.0.0.1"])


def write_back(store: ObjectStore, updates: list[Any]) -> None:
    for u in updates:
        obj = copy.deepcopy(store.raw(u.kind, u.namespace or "", u.name))
        assert obj is not None
        obj["status"] = u.status
        store.apply_event("MODIFIED", obj)


def test_events_to_snapshot_and_minimal_status_writes() -> None:
    store = ObjectStore()
    theirs = {"parentRef": {"name": "other-gw"}, "controllerName": "example.com/x",
              "conditions": []}  # fmt: skip
    r = route("r", [{"backendRefs": [backend("svc", namespace="other")]}])
    r["status"] = {"parents": [theirs]}
    for obj in [gateway_class(), gateway("gw", [listener("http", 80)]),
                *service("svc", [8080], ns="other"), r, grant()]:  # fmt: skip
        assert store.apply_event("ADDED", obj)
    ups = plan(store)
    assert sorted(u.kind for u in ups) == ["Gateway", "GatewayClass", "HTTPRoute"]
    hr = next(u for u in ups if u.kind == "HTTPRoute")
    assert hr.status["parents"][0] == theirs  # another controller's entry, untouched
    ours = hr.status["parents"][1]
    assert {c["type"]: c["status"] for c in ours["conditions"]} == {
        "Accepted": "True",
        "ResolvedRefs": "True",
    }
    write_back(store, ups)
    # nothing changed: nothing to write, even at a later time
    assert plan(store, "2026-01-02T00:00:00Z") == []
    # deleting the ReferenceGrant revokes access: one route status write
    assert store.apply_event("DELETED", grant())
    ups = plan(store)
    assert [u.kind for u in ups] == ["HTTPRoute"]
    conds = {c["type"]: c for c in ups[0].status["parents"][1]["conditions"]}
    assert conds["ResolvedRefs"]["reason"] == "RefNotPermitted"
    assert conds["Accepted"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def test_store_ignores_status_only_and_bookmark_changes() -> None:
    store = ObjectStore()
    gw = gateway("gw", [listener("http", 80)])
    store.apply_event("ADDED", gw)
    v = store.version
    gw2 = copy.deepcopy(gw)
    gw2["status"] = {"conditions": []}
    gw2["metadata"]["resourceVersion"] = "99"
    assert not store.apply_event("MODIFIED", gw2)
    assert not store.apply_event("BOOKMARK", gw2)
    assert store.version == v
    store.replace("Gateway", [])
    assert store.snapshot().gateways == {}


async def test_follow_events_serves_and_only_the_leader_writes_status(h: Harness) -> None:
    await h.echo("a", "b")
    feed = EventFeed()
    queue, written, events, writer = feed.queue, feed.written, feed.events, feed.writer

    leader = False
    await h.start([])
    assert h.gw is not None
    task = asyncio.create_task(follow_events(h.gw, events(), writer, lambda: leader))

    def r(weight_b: int) -> dict[str, Any]:
        return route("r", [{"backendRefs": [backend("a", 1), backend("b", weight_b)]}])

    for obj in [gateway_class(), gateway("gw", [listener("http", h.port)]),
                *h.svc("a"), *h.svc("b"), r(0)]:  # fmt: skip
        await queue.put(("ADDED", obj))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if h.gw.state.table.ports:
            break
    assert (await h.request("/")).backend == "a"
    assert written == []  # a follower never writes
    leader = True
    await queue.put(("MODIFIED", r(1)))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if written:
            break
    got = Counter([(await h.request("/")).backend for _ in range(10)])
    assert got == {"a": 5, "b": 5}
    assert sorted(u.kind for u in written) == ["Gateway", "GatewayClass", "HTTPRoute"]
    await queue.put(None)
    await asyncio.wait_for(task, 5)
