"""The Prometheus provider and the engine against a real Prometheus (Debian's binary)
scraping a test exporter every second. Needs the prometheus binary: skipped without it,
failed without it when CI is set."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rollouts.analysis.engine import RunEngine
from rollouts.analysis.providers.base import MeasurementError
from rollouts.analysis.providers.prometheus import PrometheusProvider, parse_time, to_result
from rollouts.api.analysis import AnalysisRunStatus, PrometheusMetric

from ..conftest import PROM_PASSWORD, PROM_USER, run_of

pytestmark = [pytest.mark.needs_prometheus, pytest.mark.timeout(60)]


class Proxy:
    """In front of Prometheus: records request headers, can delay or answer 503 first."""

    def __init__(self, target: str) -> None:
        self.headers: list[dict[str, str]] = []
        self.delay = 0.0
        self.fail_first = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.headers.append(dict(self.headers.items()))
                if proxy.fail_first > 0:
                    proxy.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                time.sleep(proxy.delay)
                request = urllib.request.Request(target + self.path, headers={
                    k: v for k, v in self.headers.items() if k.lower() == "authorization"})
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        body, status = answer.read(), answer.status
                except urllib.error.HTTPError as error:
                    body, status = error.read(), error.code
                except OSError:
                    return
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(prometheus):
    server = Proxy(prometheus.url)
    yield server
    server.close()


def _spec(prometheus, query, **fields):
    body = {"address": prometheus.url, "query": query, "timeout": 5,
            "authentication": {"basic": {"username": PROM_USER, "password": PROM_PASSWORD}}}
    body.update(fields)
    return body


def _metric(name, prometheus, query, spec_fields=None, **fields):
    return {"name": name, "provider": {"prometheus": _spec(prometheus, query,
                                                           **(spec_fields or {}))}, **fields}


async def _run(run, **kwargs):
    seen = []
    engine = RunEngine(run, on_measurement=lambda n, m: seen.append(m), **kwargs)
    return await engine.run(), seen


async def test_healthy_canary_is_successful(prometheus):
    run = run_of([_metric("success-rate", prometheus,
                          'canary_success_rate{service="healthy"}',
                          count=3, interval="1s", successCondition="result[0] >= 0.95")])
    status, seen = await _run(run)
    assert status.phase == "Successful", (status.message, seen)
    assert [m.phase for m in seen] == ["Successful"] * 3
    assert seen[0].value == "[0.99]"


async def test_degrading_canary_fails_past_failure_limit(prometheus, exporter):
    exporter.degrade_after = time.monotonic() - exporter.started + 2.0
    run = run_of([_metric("success-rate", prometheus,
                          'canary_success_rate{service="degrading"}',
                          interval="1s", failureLimit=1, successCondition="result[0] >= 0.95")])
    status, seen = await _run(run)
    assert status.phase == "Failed"
    assert seen[0].phase == "Successful"
    assert [m.phase for m in seen[-2:]] == ["Failed", "Failed"]
    assert 'metric "success-rate"' in status.message and "[0.4]" in status.message


async def test_mediocre_canary_is_inconclusive(prometheus):
    run = run_of([_metric("success-rate", prometheus, 'canary_success_rate{service="mediocre"}',
                          count=3, interval="500ms", successCondition="result[0] >= 0.95",
                          failureCondition="result[0] < 0.5")])
    status, seen = await _run(run)
    assert status.phase == "Inconclusive"
    assert seen[-1].value == "[0.9]"


async def test_no_data_is_an_error_naming_the_query(prometheus):
    query = 'canary_success_rate{service="ghost"}'
    run = run_of([_metric("success-rate", prometheus, query, interval="300ms",
                          consecutiveErrorLimit=1, successCondition="result[0] >= 0.95")])
    status, seen = await _run(run)
    assert status.phase == "Error"
    assert all(m.phase == "Error" for m in seen)
    assert f"no data for query {query!r}" in seen[0].message


async def test_prometheus_stopped_mid_run_ends_in_error_never_successful(own_prometheus):
    metric = {"name": "success-rate", "interval": "500ms", "consecutiveErrorLimit": 2,
              "successCondition": "result[0] >= 0.95",
              "provider": {"prometheus": {"address": own_prometheus.url, "timeout": 1,
                                          "query": 'canary_success_rate{service="healthy"}'}}}
    seen = []

    def observe(name, measurement):
        seen.append(measurement)
        if len(seen) == 2:
            own_prometheus.stop()
    status = await RunEngine(run_of([metric]), on_measurement=observe).run()
    assert status.phase == "Error"
    assert [m.phase for m in seen[:2]] == ["Successful", "Successful"]
    assert [m.phase for m in seen[2:]] == ["Error"] * 3
    assert "did not answer" in seen[-1].message or "connection" in seen[-1].message


async def test_slow_query_hits_the_timeout(prometheus, proxy):
    proxy.delay = 3.0
    spec = PrometheusMetric.model_validate(_spec(prometheus, "up", timeout=1, address=proxy.url))
    started = time.monotonic()
    with pytest.raises(MeasurementError, match="did not answer within 1s"):
        await PrometheusProvider(spec).measure()
    assert time.monotonic() - started < 2.5


async def test_transient_failures_are_retried_within_the_timeout(prometheus, proxy):
    proxy.fail_first = 2
    spec = PrometheusMetric.model_validate(
        _spec(prometheus, 'canary_success_rate{service="healthy"}', address=proxy.url))
    observation = await PrometheusProvider(spec).measure()
    assert observation.result == [0.99]
    assert len(proxy.headers) == 3


async def test_basic_auth_reaches_prometheus_and_wrong_credentials_are_refused(prometheus):
    good = PrometheusMetric.model_validate(_spec(prometheus, "vector(1)"))
    assert (await PrometheusProvider(good).measure()).result == [1.0]
    bad = PrometheusMetric.model_validate(_spec(
        prometheus, "vector(1)",
        authentication={"basic": {"username": PROM_USER, "password": "wrong"}}))
    with pytest.raises(MeasurementError, match="HTTP 401"):
        await PrometheusProvider(bad).measure()


async def test_bearer_token_and_headers_reach_the_server(prometheus, proxy):
    spec = PrometheusMetric.model_validate({
        "address": proxy.url, "query": "vector(1)", "timeout": 5,
        "headers": [{"key": "X-Scope-OrgID", "value": "team-a"}],
        "authentication": {"bearerToken": "t0ken"}})
    with pytest.raises(MeasurementError, match="HTTP 401"):
        await PrometheusProvider(spec).measure()  # Prometheus wants basic auth
    assert proxy.headers[-1]["Authorization"] == "Bearer t0ken"
    assert proxy.headers[-1]["X-Scope-OrgID"] == "team-a"


async def test_bad_query_is_reported_without_retrying(prometheus, proxy):
    spec = PrometheusMetric.model_validate(_spec(prometheus, "sum(", address=proxy.url))
    with pytest.raises(MeasurementError, match=r"rejected query 'sum\(': .*parse error") as info:
        await PrometheusProvider(spec).measure()
    assert "HTTP Status Code" not in str(info.value)
    assert len(proxy.headers) == 1


async def test_scalar_and_range_results(prometheus):
    scalar = PrometheusMetric.model_validate(
        _spec(prometheus, 'scalar(canary_success_rate{service="healthy"})'))
    assert (await PrometheusProvider(scalar).measure()).result == 0.99
    ranged = PrometheusMetric.model_validate(_spec(
        prometheus, 'canary_success_rate{service="healthy"}',
        rangeQuery={"start": "now() - 3s", "end": "now()", "step": "1s"}))
    result = (await PrometheusProvider(ranged).measure()).result
    assert isinstance(result, list) and result[0] and all(v == 0.99 for v in result[0])


async def test_analysis_run_status_is_persisted_as_it_goes(prometheus):
    saved: list[AnalysisRunStatus] = []
    run = run_of([_metric("a", prometheus, 'canary_success_rate{service="healthy"}',
                          count=2, interval="300ms", successCondition="result[0] > 0.5")])
    status = await RunEngine(run, persist=saved.append).run()
    assert status.phase == "Successful"
    counts = [s.metric_results[0].count for s in saved if s.metric_results]
    assert counts[-1] == 2 and 1 in counts


def test_to_result_maps_like_argo():
    vector = [{"metric": {}, "value": [1, "0.5"]}, {"metric": {}, "value": [1, "NaN"]}]
    result = to_result(vector, "q", "a")
    assert result[0] == 0.5 and result[1] != result[1]
    assert to_result([1, "2"], "q", "a") == 2.0
    with pytest.raises(MeasurementError, match="no data for query 'q' at a"):
        to_result([], "q", "a")


def test_parse_time():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_time("now()", now) == now
    assert parse_time("now() - 5m", now) == now - timedelta(minutes=5)
    assert parse_time('now() - duration("1h")', now) == now - timedelta(hours=1)
    assert parse_time("2026-01-01T00:00:00Z", now) == now
    with pytest.raises(MeasurementError):
        parse_time("yesterday", now)


def test_asyncio_is_not_blocked_by_a_query(prometheus, proxy):
    proxy.delay = 0.5
    spec = PrometheusMetric.model_validate(_spec(prometheus, "vector(1)", address=proxy.url))

    async def main():
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1
        ticker = asyncio.ensure_future(tick())
        await PrometheusProvider(spec).measure()
        ticker.cancel()
        return ticks
    assert asyncio.run(main()) >= 5


async def test_oauth2_client_credentials_token_reaches_the_server(prometheus, proxy):
    forms: list[str] = []

    class Token(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            forms.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            body = b'{"access_token": "tok-123", "token_type": "bearer", "expires_in": 3600}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = PrometheusMetric.model_validate({
            "address": proxy.url, "query": "vector(1)", "timeout": 5,
            "authentication": {"oauth2": {
                "tokenUrl": f"http://127.0.0.1:{server.server_address[1]}/token",
                "clientId": "rollouts", "clientSecret": "s3cret", "scopes": ["read"]}}})
        provider = PrometheusProvider(spec)
        for _ in range(2):
            with pytest.raises(MeasurementError, match="HTTP 401"):
                await provider.measure()
        assert proxy.headers[-1]["Authorization"] == "Bearer tok-123"
        assert len(forms) == 1  # the token is cached until it expires
        assert "grant_type=client_credentials" in forms[0] and "client_id=rollouts" in forms[0]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tls_proxy(prometheus, tmp_path):
    """The proxy behind TLS with a self-signed certificate for 127.0.0.1."""
    import shutil
    import ssl
    import subprocess
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = Proxy(prometheus.url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.url = server.url.replace("http://", "https://")
    yield server, cert
    server.close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_tls_needs_the_ca_or_insecure(prometheus, tls_proxy):
    server, cert = tls_proxy
    base = _spec(prometheus, "vector(1)", address=server.url, timeout=3)
    with pytest.raises(MeasurementError, match="certificate verify failed"):
        await PrometheusProvider(PrometheusMetric.model_validate(base)).measure()
    with_ca = PrometheusMetric.model_validate({**base, "tls": {"caFile": str(cert)}})
    assert (await PrometheusProvider(with_ca).measure()).result == [1.0]
    insecure = PrometheusMetric.model_validate({**base, "insecure": True})
    assert (await PrometheusProvider(insecure).measure()).result == [1.0]
