"""The demo app: version, injected errors and latency, Prometheus metrics."""

from __future__ import annotations

import random
import time

from aiohttp.test_utils import TestClient, TestServer

from rollouts.local.demoapp import DemoConfig, make_app


async def test_reports_version_and_counts_requests() -> None:
    async with TestClient(TestServer(make_app(DemoConfig("v7")))) as cl:
        resp = await cl.get("/")
        assert resp.status == 200 and (await resp.json())["version"] == "v7"
        metrics = await (await cl.get("/metrics")).text()
        assert 'demo_http_requests_total{code="200",version="v7"} 1.0' in metrics
        assert "demo_http_request_duration_seconds_bucket" in metrics


async def test_error_share_and_latency_can_be_changed_at_run_time() -> None:
    app = make_app(DemoConfig("v1"), rng=random.Random(42))
    async with TestClient(TestServer(app)) as cl:
        resp = await cl.post("/control", json={"errorRate": 0.5, "latencyMs": 30})
        assert (await resp.json())["errorRate"] == 0.5
        started = time.perf_counter()
        codes = [(await cl.get("/")).status for _ in range(40)]
        assert (time.perf_counter() - started) >= 40 * 0.03
        assert 8 <= codes.count(500) <= 32 and set(codes) == {200, 500}
        await cl.post("/control", json={"errorRate": 1})
        assert (await cl.get("/")).status == 500
        metrics = await (await cl.get("/metrics")).text()
        assert 'demo_http_requests_total{code="500",version="v1"}' in metrics
