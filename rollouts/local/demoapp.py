"""The demo app: a tiny HTTP server that reports its version, for local rollouts.

``GET /`` answers ``{"version", "pod", "ip"}`` (or a 5xx for a configured share of
requests, after a configured latency); ``GET /healthz`` is for probes; ``GET /metrics``
exports Prometheus metrics; ``GET/POST /control`` reads or changes the error share and
latency at run time (``{"errorRate": 0.2, "latencyMs": 50}``). Images
``rollouts-demo:VERSION`` run it in local mode (``python -m rollouts.local.demoapp``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

__all__ = ["DemoConfig", "main", "make_app", "run"]


@dataclass
class DemoConfig:
    version: str = "v1"
    error_rate: float = 0.0
    latency_ms: float = 0.0


def make_app(config: DemoConfig, rng: random.Random | None = None) -> web.Application:
    registry = CollectorRegistry()
    requests = Counter(
        "demo_http_requests",
        "Requests served by the demo app",
        ["code", "version"],
        registry=registry,
    )
    latency = Histogram(
        "demo_http_request_duration_seconds", "Request latency", ["version"], registry=registry
    )
    chance = rng or random.Random()

    async def index(request: web.Request) -> web.Response:
        started = time.perf_counter()
        if config.latency_ms > 0:
            await asyncio.sleep(config.latency_ms / 1000)
        failed = chance.random() < config.error_rate
        code = 500 if failed else 200
        body = {
            "version": config.version,
            "pod": os.environ.get("POD_NAME", ""),
            "ip": os.environ.get("POD_IP", ""),
        }
        if failed:
            body["error"] = "injected failure"
        requests.labels(code=str(code), version=config.version).inc()
        latency.labels(version=config.version).observe(time.perf_counter() - started)
        return web.json_response(body, status=code)

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def control(request: web.Request) -> web.Response:
        if request.method == "POST":
            data = await request.json()
            if "errorRate" in data:
                config.error_rate = min(max(float(data["errorRate"]), 0.0), 1.0)
            if "latencyMs" in data:
                config.latency_ms = max(float(data["latencyMs"]), 0.0)
        return web.json_response(
            {
                "version": config.version,
                "errorRate": config.error_rate,
                "latencyMs": config.latency_ms,
            }
        )

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/control", control)
    return app


def run(host: str, port: int, config: DemoConfig) -> None:
    """Serve until interrupted (SIGINT or SIGTERM)."""
    print(f"demo app {config.version} listening on http://{host}:{port}", flush=True)
    web.run_app(
        make_app(config), host=host, port=port, print=None, access_log=None, shutdown_timeout=1.0
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rollouts-demo-app", description=__doc__)
    parser.add_argument("--app-version", default=os.environ.get("APP_VERSION", "v1"))
    parser.add_argument("--host", default=os.environ.get("POD_IP", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument(
        "--error-rate", type=float, default=float(os.environ.get("ERROR_RATE", "0"))
    )
    parser.add_argument(
        "--latency-ms", type=float, default=float(os.environ.get("LATENCY_MS", "0"))
    )
    args = parser.parse_args(argv)
    run(args.host, args.port, DemoConfig(args.app_version, args.error_rate, args.latency_ms))


if __name__ == "__main__":
    main()
