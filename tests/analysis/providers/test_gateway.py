"""The builtin gateway provider against a fixture that serves the stats contract."""

from __future__ import annotations

import pytest
from aiohttp import web

from rollouts.analysis.providers.base import MeasurementError
from rollouts.analysis.providers.gateway import STATS_PATH, GatewayProvider, pick_stat
from rollouts.api.analysis import GatewayMetric

from ..conftest import serving

pytestmark = pytest.mark.timeout(30)

STATS = {
    "windowSeconds": 60,
    "backends": {
        "shop/web-canary": {"requests": 200, "errors": 6, "successRate": 0.97,
                            "latencySeconds": {"p50": 0.01, "p90": 0.05, "p99": 0.25}},
        "shop/web-stable": {"requests": 800, "errors": 0, "successRate": 1.0,
                            "latencySeconds": {"p50": 0.01, "p90": 0.02, "p99": 0.04}},
        "other/web-canary": {"requests": 0, "errors": 0, "successRate": None,
                             "latencySeconds": {"p50": None, "p90": None, "p99": None}},
    },
}


@pytest.fixture
async def gateway():
    windows: list[str] = []

    async def stats(request: web.Request) -> web.Response:
        windows.append(request.query.get("window", ""))
        return web.json_response(STATS)

    app = web.Application()
    app.router.add_get(STATS_PATH, stats)
    async with serving(app) as address:
        yield address, windows


def _metric(address: str, **fields) -> GatewayMetric:
    return GatewayMetric.model_validate({"address": address, "service": "web-canary",
                                         "namespace": "shop", **fields})


async def test_success_rate_and_latency_from_the_gateway(gateway):
    address, windows = gateway
    assert (await GatewayProvider(_metric(address)).measure()).result == 0.97
    p99 = await GatewayProvider(_metric(address, stat="latency-p99", window="30s")).measure()
    assert p99.result == 0.25
    assert windows == ["60", "30"]


async def test_no_traffic_is_an_error_not_a_pass(gateway):
    address, _ = gateway
    with pytest.raises(MeasurementError, match="no requests to backend other/web-canary"):
        await GatewayProvider(_metric(address, namespace="other")).measure()
    with pytest.raises(MeasurementError, match="no requests to backend shop/api"):
        await GatewayProvider(_metric(address, service="api")).measure()


async def test_unreachable_gateway_is_an_error():
    with pytest.raises(MeasurementError, match="failed"):
        await GatewayProvider(_metric("http://127.0.0.1:1")).measure()


def test_pick_stat_without_namespace_must_be_unambiguous():
    stable = GatewayMetric(address="x", service="web-stable")
    assert pick_stat(STATS, stable) == 1.0
    with pytest.raises(MeasurementError, match="ambiguous"):
        pick_stat(STATS, GatewayMetric(address="x", service="web-canary"))
    requests = GatewayMetric(address="x", service="web-stable", stat="requests")
    assert pick_stat(STATS, requests) == 800


def test_a_service_port_suffix_still_matches():
    stats = {"windowSeconds": 30, "backends": {"shop/api:8080": {
        "requests": 10, "errors": 1, "successRate": 0.9, "latencySeconds": {}}}}
    assert pick_stat(stats, GatewayMetric(address="x", service="api", namespace="shop")) == 0.9
    with pytest.raises(MeasurementError, match="no latency-p99"):
        pick_stat(stats, GatewayMetric(address="x", service="api", stat="latency-p99"))


def test_the_gateways_own_stats_satisfy_the_contract():
    metrics = pytest.importorskip("rollouts.gateway.metrics")
    registry = metrics.Registry()
    now = 1_000_000.0
    canary = registry.route_stats("shop/web", "0", "shop/web-canary")
    for i in range(100):
        canary.record(503 if i < 5 else 200, 0.02 if i < 98 else 0.9, now)
    stats = registry.backend_stats(60, now=now)
    metric = GatewayMetric(address="x", service="web-canary", namespace="shop")
    assert pick_stat(stats, metric) == pytest.approx(0.95)
    p50 = pick_stat(stats, metric.model_copy(update={"stat": "latency-p50"}))
    assert 0.01 <= p50 <= 0.025
    assert pick_stat(stats, metric.model_copy(update={"stat": "requests"})) == 100
    idle = GatewayMetric(address="x", service="web-stable", namespace="shop")
    with pytest.raises(MeasurementError, match="no requests"):
        pick_stat(stats, idle)
