"""The admin port: /metrics, /stats, /config, /status, /healthz, /readyz.

Why this exists: scrapes, the builtin analysis provider and humans must never compete
with proxied traffic for a listener, so they get their own port. Nothing here is on
the hot path: everything is rendered from counters when asked.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rollouts.gateway.metrics import render_prometheus

if TYPE_CHECKING:
    from rollouts.gateway.server import GatewayServer

__all__ = ["admin_app"]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, indent=2, default=str), status=status,
                        content_type="application/json")  # fmt: skip


def admin_app(gw: GatewayServer) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=render_prometheus(gw.all_workers()),
                            content_type="text/plain", charset="utf-8")  # fmt: skip

    async def stats(req: web.Request) -> web.Response:
        try:
            window = int(req.query.get("window", "30"))
        except ValueError:
            return _json({"error": "window must be an integer number of seconds"}, 400)
        return _json(gw.all_workers().backend_stats(window))

    async def config(_: web.Request) -> web.Response:
        return _json(gw.state.table.to_dict())

    async def status(_: web.Request) -> web.Response:
        return _json(gw.status_report())

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if gw.ready and not gw.bind_errors:
            return web.Response(text="ready\n")
        why = "".join(f"port {p}: {e}\n" for p, e in sorted(gw.bind_errors.items()))
        return web.Response(text="not ready\n" + why, status=503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/stats", stats)
    app.router.add_get("/config", config)
    app.router.add_get("/status", status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
