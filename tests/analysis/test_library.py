"""The template library in analysis/: every file passes the models and the checks, every
PromQL query parses in a real Prometheus, and the builtin gateway templates run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from rollouts.analysis.args import build_run, resolve_metrics
from rollouts.analysis.checks import template_problems
from rollouts.analysis.engine import RunEngine
from rollouts.analysis.providers.base import MeasurementError
from rollouts.analysis.providers.gateway import STATS_PATH
from rollouts.analysis.providers.prometheus import PrometheusProvider
from rollouts.api.analysis import AnalysisTemplate, PrometheusMetric
from rollouts.api.validation import parse_object

from .conftest import PROM_PASSWORD, PROM_USER, serving

LIBRARY = Path(__file__).resolve().parents[2] / "analysis"
FILES = sorted(LIBRARY.glob("*.yaml"))
SAMPLE_ARGS = {"service": "web-canary", "namespace": "shop", "cluster": "httproute/shop/web/.*",
               "upstream": "shop_web-canary_80"}


def _templates(path: Path) -> list[AnalysisTemplate]:
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        model, problems = parse_object(doc)
        assert problems == [], f"{path.name}: {problems}"
        assert template_problems(model) == [], f"{path.name}: {template_problems(model)}"
        out.append(model)
    return out


def test_library_is_there():
    names = {p.stem for p in FILES}
    assert {"gateway-builtin", "gateway-prometheus", "istio", "linkerd", "envoy-gateway",
            "nginx-gateway-fabric"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_template_passes_the_models_and_says_what_it_measures(path):
    assert path.read_text().startswith("#"), "a comment first says what it measures"
    for tpl in _templates(path):
        declared = {a.name for a in tpl.spec.args or []}
        assert declared & {"service", "cluster", "upstream"}, "an arg for the service"
        assert any(a.startswith(("min-", "max-")) for a in declared), "an arg for a threshold"
        args = {k: v for k, v in SAMPLE_ARGS.items() if k in declared}
        run = build_run([tpl], args, name="r")
        for metric in resolve_metrics(run):
            assert "{{" not in metric.model_dump_json()


PROM_QUERIES = [(p.name, m.name, tpl) for p in FILES for tpl in _templates(p)
                for m in tpl.spec.metrics if m.provider.prometheus is not None]


@pytest.mark.needs_prometheus
@pytest.mark.parametrize(("file", "metric", "tpl"), PROM_QUERIES,
                         ids=[f"{f}:{t.metadata.name}" for f, _, t in PROM_QUERIES])
async def test_every_promql_query_is_valid_in_a_real_prometheus(file, metric, tpl, prometheus):
    declared = {a.name for a in tpl.spec.args or []}
    args = {k: v for k, v in SAMPLE_ARGS.items() if k in declared}
    args["prometheus-address"] = prometheus.url
    resolved = next(m for m in resolve_metrics(build_run([tpl], args, name="r"))
                    if m.name == metric)
    spec = PrometheusMetric.model_validate({
        **resolved.provider.prometheus.model_dump(by_alias=True, exclude_none=True),
        "authentication": {"basic": {"username": PROM_USER, "password": PROM_PASSWORD}}})
    with pytest.raises(MeasurementError, match="no data for query"):
        await PrometheusProvider(spec).measure()


@pytest.fixture
async def gateway_stats():
    stats = {"windowSeconds": 60, "backends": {"shop/web-canary": {
        "requests": 50, "errors": 0, "successRate": 1.0,
        "latencySeconds": {"p50": 0.01, "p90": 0.02, "p99": 0.9}}}}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(stats)
    app = web.Application()
    app.router.add_get(STATS_PATH, handler)
    async with serving(app) as address:
        yield f"http://{address}"


@pytest.mark.timeout(30)
async def test_builtin_gateway_templates_run_end_to_end(gateway_stats):
    success, latency = _templates(LIBRARY / "gateway-builtin.yaml")
    args = {"service": "web-canary", "namespace": "shop", "gateway-address": gateway_stats,
            "interval": "100ms"}
    engine = RunEngine(build_run([success, latency], args, name="r"))
    engine_task = engine.run()
    status = await asyncio.wait_for(engine_task, 20)
    # p99 of 0.9s is over the 0.5s default: two failures (failureLimit 1) fail the run
    assert status.phase == "Failed"
    assert 'metric "latency-p99"' in status.message and "0.9" in status.message


@pytest.mark.needs_prometheus
@pytest.mark.timeout(60)
async def test_gateway_prometheus_templates_measure_the_gateways_own_series(prometheus, exporter):
    """Prometheus scrapes what the gateway's metrics registry renders; the templates'
    queries find the canary among other backends and compute the right numbers."""
    import threading
    import time
    gateway_metrics = pytest.importorskip("rollouts.gateway.metrics")
    registry = gateway_metrics.Registry()
    lock = threading.Lock()

    def render() -> str:
        with lock:
            return str(gateway_metrics.render_prometheus(registry))
    stop = threading.Event()

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            with lock:
                now = time.time()
                canary = registry.route_stats("shop/web", "0", "shop/web-canary")
                for _ in range(20):
                    n += 1
                    canary.record(503 if n % 10 == 0 else 200, 0.3 if n % 50 == 0 else 0.02,
                                  now)
                registry.route_stats("shop/web", "0", "shop/web-stable").record(500, 2.0, now)
            time.sleep(0.05)
    exporter.extra.append(render)
    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    try:
        prometheus.wait_for('rollouts_gateway_requests_total{backend="shop/web-canary"}')
        await asyncio.sleep(3)  # a few scrapes, so rate() has points
        success, latency = _templates(LIBRARY / "gateway-prometheus.yaml")
        common = {"service": "web-canary", "namespace": "shop", "window": "10s",
                  "interval": "200ms", "prometheus-address": prometheus.url}
        auth = {"basic": {"username": PROM_USER, "password": PROM_PASSWORD}}

        seen: list = []

        async def measure(tpl, **args):
            """Two measurements of the (indefinite) template, then terminate."""
            run = build_run([tpl], {**common, **args}, name="r")
            for metric in run.spec.metrics:
                prom = metric.provider.prometheus
                metric.provider.prometheus = prom.model_validate(
                    {**prom.model_dump(by_alias=True, exclude_none=True), "authentication": auth})
            engine: RunEngine

            def observe(name, measurement):
                seen.append(measurement)
                if len(seen) >= 2:
                    engine.terminate()
            engine = RunEngine(run, on_measurement=observe)
            return await engine.run()
        status = await measure(success, **{"min-success-rate": "0.85"})
        assert status.phase == "Successful", status.message
        rate = float(seen[-1].value.strip("[]"))
        assert rate == pytest.approx(0.9, abs=0.03)  # 1 in 10 is a 503; stable's 500s ignored
        seen.clear()
        status = await measure(success, **{"min-success-rate": "0.99"})
        assert status.phase == "Failed"
        seen.clear()
        status = await measure(latency, **{"max-p99-seconds": "0.1"})
        p99 = float(seen[-1].value.strip("[]"))
        assert 0.1 < p99 <= 0.5 and status.phase == "Failed"  # 2 % of requests take 0.3 s
    finally:
        stop.set()
        worker.join()
        exporter.extra.remove(render)
