"""Weights, invalid backends (500), no endpoints (503), ReferenceGrant, reloads under load."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from rollouts.gateway.balancer import SmoothWeighted

from .conftest import Harness, backend, basic, free_port, gateway, gateway_class, listener, route


def test_smooth_weighted_round_robin_is_exact_over_every_window() -> None:
    for weights in ([90, 10], [99, 1], [1, 2, 3], [5, 0, 5], [1_000_000, 1]):
        b = SmoothWeighted([(i, w) for i, w in enumerate(weights)])
        total = sum(weights)
        picks = [b.pick() for _ in range(total * 2)]
        assert Counter(picks) == {i: 2 * w for i, w in enumerate(weights) if w}
        if total > 1000:
            continue
        picks += [b.pick() for _ in range(100)]
        for n in (7, 10, 33):
            for start in range(0, total * 2, 3):
                window = Counter(picks[start : start + n])
                for i, w in enumerate(weights):
                    assert abs(window[i] - n * w / total) <= 1.0 + 1e-9


def test_smooth_weighted_empty_and_single() -> None:
    assert SmoothWeighted([]).pick() is None
    assert SmoothWeighted([("x", 0)]).pick() is None
    assert SmoothWeighted([("x", 3)]).pick() == "x"


async def test_split_follows_weights_exactly(h: Harness) -> None:
    await h.echo("stable", "canary")
    await h.start(basic(h, [{"backendRefs": [backend("stable", 90), backend("canary", 10)]}]))
    got = Counter([(await h.request("/")).backend for _ in range(100)])
    assert got == {"stable": 90, "canary": 10}


async def test_weight_zero_gets_nothing(h: Harness) -> None:
    await h.echo("stable", "canary")
    await h.start(basic(h, [{"backendRefs": [backend("stable", 1), backend("canary", 0)]}]))
    got = Counter([(await h.request("/")).backend for _ in range(20)])
    assert got == {"stable": 20}


async def test_invalid_backend_takes_its_share_as_500(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"backendRefs": [backend("a", 1), backend("missing", 1)]}]))
    got = Counter([(await h.request("/")).status for _ in range(20)])
    assert got == {200: 10, 500: 10}


async def test_all_invalid_kinds_and_no_backends_give_500(h: Harness) -> None:
    await h.start(basic(h, [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/kind"}}],
         "backendRefs": [{"group": "example.com", "kind": "Thing", "name": "x", "port": 1}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/none"}}]},
    ]))  # fmt: skip
    assert (await h.request("/kind")).status == 500
    assert (await h.request("/none")).status == 500


async def test_no_ready_endpoints_503_and_unreachable_503(h: Harness) -> None:
    await h.echo("a")
    objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
    objs += h.svc("a", ready=False)
    objs += [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "down"},
         "spec": {"ports": [{"name": "http", "port": 80}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "down-1", "labels": {"kubernetes.io/service-name": "down"}},
         "ports": [{"name": "http", "port": free_port()}],
         "endpoints": [{"addresses": ["127.0.0.1"]}]},
        route("r", [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/down"}}],
             "backendRefs": [backend("down")]},
            {"backendRefs": [backend("a")]},
        ]),
    ]  # fmt: skip
    await h.start(objs)
    assert (await h.request("/")).status == 503
    assert (await h.request("/down")).status == 503
    assert h.gw is not None
    assert h.gw.registry.connect_errors.get("default/down") == 1


def _cross_ns(h: Harness, grant: bool) -> list[dict[str, Any]]:
    objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
    objs += h.svc("a", ns="other")
    objs.append(route("r", [{"backendRefs": [backend("a", namespace="other")]}]))
    if grant:
        objs.append({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                     "metadata": {"name": "g", "namespace": "other"},
                     "spec": {"from": [{"group": "gateway.networking.k8s.io",
                                        "kind": "HTTPRoute", "namespace": "default"}],
                              "to": [{"group": "", "kind": "Service"}]}})  # fmt: skip
    return objs


async def test_cross_namespace_needs_reference_grant_and_revocation_is_immediate(
    h: Harness,
) -> None:
    await h.echo("a")
    await h.start(_cross_ns(h, grant=False))
    assert (await h.request("/")).status == 500
    await h.apply(_cross_ns(h, grant=True))
    assert (await h.request("/")).backend == "a"
    await h.apply(_cross_ns(h, grant=False))
    assert (await h.request("/")).status == 500


async def test_endpoints_of_a_backend_are_balanced(h: Harness) -> None:
    p1, p2 = await h.echo("e1", "e2")
    objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
    objs += [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
         "spec": {"ports": [{"name": "http", "port": 80}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "svc-1", "labels": {"kubernetes.io/service-name": "svc"}},
         "ports": [{"name": "http", "port": p1}], "endpoints": [{"addresses": ["127.0.0.1"]}]},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "svc-2", "labels": {"kubernetes.io/service-name": "svc"}},
         "ports": [{"name": "http", "port": p2}], "endpoints": [{"addresses": ["127.0.0.1"]}]},
        route("r", [{"backendRefs": [backend("svc")]}]),
    ]  # fmt: skip
    await h.start(objs)
    got = Counter([(await h.request("/")).backend for _ in range(10)])
    assert got == {"e1": 5, "e2": 5}


async def test_hundred_weight_changes_under_load_lose_nothing(h: Harness) -> None:
    await h.echo("stable", "canary")

    def cfg(canary: int) -> list[dict[str, Any]]:
        return basic(h, [{"backendRefs": [backend("stable", 100 - canary),
                                          backend("canary", canary)]}])  # fmt: skip

    await h.start(cfg(0))
    failures: list[int] = []
    seen: Counter[str | None] = Counter()
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            r = await h.request("/")
            seen[r.backend] += 1
            if r.status != 200:
                failures.append(r.status)

    workers = [asyncio.create_task(load()) for _ in range(8)]
    try:
        for i in range(100):
            canary = 0 if i % 10 == 0 else 100 if i % 10 == 5 else (i * 37) % 101
            await h.apply(cfg(canary))
            seen.clear()
            got = Counter([(await h.request("/")).backend for _ in range(50)])
            got.update(seen)  # everything answered since the swap
            n = got["canary"] + got["stable"]
            # all picks since the swap are one SWRR window, except at most the 8
            # requests that were already in flight (routed with the old table)
            assert n > 50
            assert abs(got["canary"] - n * canary / 100) <= 9, (i, canary, got)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert failures == []


async def test_reload_opens_new_ports_and_closes_removed_ones(h: Harness) -> None:
    await h.echo("a")
    other = free_port()

    def cfg(ports: list[int]) -> list[dict[str, Any]]:
        objs = [gateway_class(), gateway("gw", [listener(f"l{p}", p) for p in ports])]
        return [*objs, *h.svc("a"), route("r", [{"backendRefs": [backend("a")]}])]

    await h.start(cfg([h.port]))
    await h.apply(cfg([h.port, other]))
    assert (await h.request("/", port=other)).backend == "a"
    await h.apply(cfg([other]))
    assert (await h.request("/", port=other)).backend == "a"
    try:
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", h.port), 2)
        refused = False
    except OSError:
        refused = True
    assert refused


async def test_unresolvable_mirror_never_hurts_the_request(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"filters": [
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("nowhere")}},
    ], "backendRefs": [backend("a")]}]))  # fmt: skip
    assert (await h.request("/")).backend == "a"


async def test_port_that_cannot_be_bound_makes_the_gateway_unready(h: Harness) -> None:
    import socket

    import aiohttp

    await h.echo("a")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    admin = free_port()
    try:
        objs = [gateway_class(), gateway("gw", [listener("ok", h.port), listener("no", busy)]),
                *h.svc("a"), route("r", [{"backendRefs": [backend("a")]}])]  # fmt: skip
        await h.start(objs, admin_port=admin)
        assert (await h.request("/")).backend == "a"  # the other port serves
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{admin}/readyz") as r:
            assert r.status == 503
            assert f"port {busy}" in await r.text()
    finally:
        taken.close()
