"""Shared helpers for analysis tests: metrics from dicts, scripted fake providers,
local HTTP servers, a real Prometheus."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web

from rollouts.analysis.clock import Clock
from rollouts.analysis.providers.base import MeasurementError, Observation
from rollouts.api.analysis import AnalysisRun, AnalysisTemplate, Metric
from tests.tools import free_port, prometheus_binary


def metric(name: str = "m", **fields: Any) -> Metric:
    body: dict[str, Any] = {"name": name, "provider": {"web": {"url": "http://127.0.0.1:1/x"}}}
    body.update(fields)
    return Metric.model_validate(body)


def template(metrics: list[dict[str, Any]], name: str = "t", **spec: Any) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate({
        "apiVersion": "rollouts.dev/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": name}, "spec": {"metrics": metrics, **spec},
    })


def run_of(metrics: list[dict[str, Any]], **spec: Any) -> AnalysisRun:
    return AnalysisRun.model_validate({
        "apiVersion": "rollouts.dev/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "r"}, "spec": {"metrics": metrics, **spec},
    })


class ScriptedProvider:
    """Returns the scripted values in turn (the last one forever); an Exception entry is
    raised, a ``("sleep", s)`` entry sleeps on the clock first."""

    kind = "fake"

    def __init__(self, script: Iterable[Any], clock: Clock, timeout: float = 5.0) -> None:
        self.script = list(script)
        self.clock = clock
        self.timeout = timeout
        self.calls = 0
        self.active = 0
        self.max_active = 0

    @property
    def timeout_seconds(self) -> float:
        return self.timeout

    async def close(self) -> None:
        return None

    async def measure(self) -> Observation:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            item = self.script[min(self.calls, len(self.script) - 1)]
            self.calls += 1
            if isinstance(item, tuple) and item and item[0] == "sleep":
                await self.clock.sleep(item[1])
                item = item[2] if len(item) > 2 else 1.0
            if isinstance(item, BaseException):
                raise item
            return Observation(result=item)
        finally:
            self.active -= 1


def scripted(clock: Clock, **scripts: list[Any]) -> tuple[
        Callable[[Metric], ScriptedProvider], dict[str, ScriptedProvider]]:
    providers = {name: ScriptedProvider(script, clock) for name, script in scripts.items()}
    return (lambda m: providers[m.name]), providers


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` served on a free loopback port while the block runs: ``127.0.0.1:PORT``."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


@pytest.fixture
def no_data() -> MeasurementError:
    return MeasurementError("no data for query 'up'")


# ---- a real Prometheus scraping a test exporter ---------------------------------------

PROM_USER = "analysis"
PROM_PASSWORD = "analysis-pass"
# bcrypt of PROM_PASSWORD (cost 4), as Prometheus' web config wants it
PROM_HASH = "$2b$04$zP6xadGqT0MriVUX/J5eGee8sJMpdZ4kN38Ff92LQtZVCuS3c4Nkq"


class Exporter:
    """Serves gauges ``canary_success_rate{service=...}`` whose values the test controls:
    a number, or a function of the seconds since the exporter started."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.extra: list[Callable[[], str]] = []  # more exposition text, e.g. the gateway's
        self.started = time.monotonic()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                lines = ["# TYPE canary_success_rate gauge"]
                elapsed = time.monotonic() - exporter.started
                for service, value in sorted(exporter.values.items()):
                    number = value(elapsed) if callable(value) else value
                    lines.append(f'canary_success_rate{{service="{service}"}} {number}')
                text = "\n".join(lines) + "\n" + "".join(extra() for extra in exporter.extra)
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Prometheus:
    def __init__(self, binary: str, workdir: Path, target_port: int, auth: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = (PROM_USER, PROM_PASSWORD) if auth else None
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: exporter\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n")
        args = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        if auth:
            web = workdir / "web.yml"
            web.write_text(f"basic_auth_users:\n  {PROM_USER}: {PROM_HASH}\n")
            args.append(f"--web.config.file={web}")
        self.log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_for(self, query: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}")
            try:
                answer = requests.get(f"{self.url}/api/v1/query", params={"query": query},
                                      auth=self.auth, timeout=2)
                if answer.ok and answer.json()["data"]["result"]:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus never had data for {query}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def exporter():
    server = Exporter()
    server.values.update({
        "healthy": 0.99,
        "mediocre": 0.9,
        "degrading": lambda elapsed: 0.99 if elapsed < server.degrade_after else 0.4,
    })
    server.degrade_after = 1e9  # type: ignore[attr-defined]
    yield server
    server.close()


@pytest.fixture(scope="session")
def prometheus(exporter, tmp_path_factory):
    """A real Prometheus with basic auth, scraping ``exporter`` every second."""
    server = Prometheus(prometheus_binary(), tmp_path_factory.mktemp("prom"), exporter.port,
                        auth=True)
    try:
        server.wait_for('canary_success_rate{service="healthy"}')
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_prometheus(exporter, tmp_path):
    """A Prometheus of the test's own (it may stop it), without auth."""
    server = Prometheus(prometheus_binary(), tmp_path / "prom", exporter.port, auth=False)
    try:
        server.wait_for('canary_success_rate{service="healthy"}')
        yield server
    finally:
        server.stop()
