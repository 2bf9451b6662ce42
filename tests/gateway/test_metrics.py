"""Counters: recording, exposition, sliding-window stats, merging across workers."""

from __future__ import annotations

import json

from rollouts.gateway.metrics import Registry, render_prometheus


def test_record_render_window_and_merge() -> None:
    a, b = Registry(config_generation=3), Registry()
    now = 1_000_000.0
    for _ in range(90):
        a.route_stats("default/r", "0", "default/v1").record(200, 0.002, now)
    for _ in range(10):
        b.route_stats("default/r", "0", "default/v1").record(503, 0.2, now)
    b.route_stats("default/r", "0", "default/v2").record(200, 0.001, now - 120)  # too old
    b.connect_error("default/v1")
    b.active_connections = 4
    merged = a.merged([json.loads(json.dumps(b.dump()))])
    text = render_prometheus(merged)
    assert ('rollouts_gateway_requests_total{route="default/r",rule="0",'
            'backend="default/v1",code="2xx"} 90') in text  # fmt: skip
    assert 'backend="default/v1",code="5xx"} 10' in text
    assert 'rollouts_gateway_upstream_connect_errors_total{backend="default/v1"} 1' in text
    assert "rollouts_gateway_active_connections 4" in text
    assert "rollouts_gateway_config_generation 3" in text
    assert ('rollouts_gateway_request_duration_seconds_bucket{route="default/r",rule="0",'
            'backend="default/v1",code="2xx",le="0.0025"} 90') in text  # fmt: skip
    stats = merged.backend_stats(30, now=now)["backends"]
    v1 = stats["default/v1"]
    assert (v1["requests"], v1["errors"]) == (100, 10)
    assert v1["successRate"] == 0.9
    assert 0.001 < v1["latencySeconds"]["p50"] <= 0.0025
    assert 0.1 < v1["latencySeconds"]["p99"] <= 0.25
    assert stats["default/v2"]["requests"] == 0
    assert stats["default/v2"]["successRate"] is None
