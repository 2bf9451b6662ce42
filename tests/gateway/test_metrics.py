"""Counters: recording, exposition, sliding-window stats, merging across workers."""

from __future__ import annotations

import json

import pytest

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


def test_runs_of_alike_requests_are_counted_exactly_whenever_read() -> None:
    """Alike requests are folded into the counters lazily; reads in the middle of a run,
    class or bucket changes and second changes must all see every request."""
    reg = Registry()
    st = reg.route_stats("default/r", "0", "default/v1")
    now = 2_000_000.0
    for status, seconds, t in [(200, 0.0001, now)] * 5 + [(503, 0.3, now), (200, 0.0001, now)]:
        st.record(status, seconds, t)
    assert st.counts == [0, 6, 0, 0, 1]  # read mid-run
    for _ in range(3):
        st.record(200, 0.0001, now)  # the same run goes on after the read
    st.record(200, 0.0001, now + 1)  # next second
    assert st.counts == [0, 10, 0, 0, 1]
    assert st.window(now + 1, 1) == (1, 0, [1] + [0] * 14)
    total, errors, hist = st.window(now + 1, 2)
    assert (total, errors, hist[0], hist[9]) == (11, 1, 10, 1)
    text = render_prometheus(reg)
    assert 'code="2xx"} 10' in text and 'code="5xx"} 1' in text
    assert 'rollouts_gateway_request_duration_seconds_sum{route="default/r",rule="0",' \
           'backend="default/v1",code="2xx"} 0.001' in text  # fmt: skip
    # whole lines: the substrings above would also hold for a count of 100 or 1000, or a
    # sum of 0.0015
    lab = 'route="default/r",rule="0",backend="default/v1"'
    series = {k: v for k, _, v in (line.rpartition(" ") for line in text.splitlines()
                                   if not line.startswith("#"))}  # fmt: skip
    assert series[f'rollouts_gateway_requests_total{{{lab},code="2xx"}}'] == "10"
    assert series[f'rollouts_gateway_requests_total{{{lab},code="5xx"}}'] == "1"
    assert series[f'rollouts_gateway_request_duration_seconds_count{{{lab},code="2xx"}}'] == "10"
    assert float(series[f'rollouts_gateway_request_duration_seconds_sum{{{lab},code="2xx"}}']
                 ) == pytest.approx(0.001)  # fmt: skip
    assert float(series[f'rollouts_gateway_request_duration_seconds_sum{{{lab},code="5xx"}}']
                 ) == pytest.approx(0.3)  # fmt: skip
    st.record(200, 0.0001, now + 2)  # unread when dumped: the dump must carry it
    merged = Registry().merged([json.loads(json.dumps(reg.dump()))])
    assert merged.routes[("default/r", "0", "default/v1")].counts == [0, 11, 0, 0, 1]
