"""``rollouts gateway``: run the built-in Gateway API data plane."""

from __future__ import annotations

import logging
import os
import sys

import click

from rollouts.gateway.http1 import Limits
from rollouts.gateway.run import run

__all__ = ["gateway"]


@click.command("gateway")
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True),
    required=True,
    help="Directory (or file) of manifests: GatewayClass, Gateway, HTTPRoute, "
    "Service, EndpointSlice, ReferenceGrant, Secret. Reloaded on change.",
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Address listeners bind.")
@click.option(
    "--admin-port",
    default=9901,
    show_default=True,
    type=int,
    help="Port of /metrics, /stats, /config, /status, /healthz, /readyz "
    "(bound on 127.0.0.1); 0 disables it.",
)
@click.option("--admin-host", default="127.0.0.1", show_default=True)
@click.option(
    "--workers",
    default=0,
    type=int,
    help="Worker processes sharing the ports (SO_REUSEPORT); 0 = CPU count.",
)
@click.option("--max-body", type=int, default=None, help="Largest request body, bytes.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def gateway(config: str, host: str, admin_port: int, admin_host: str, workers: int,
            max_body: int | None, log_level: str) -> None:  # fmt: skip
    """Serve Gateways and HTTPRoutes from manifests, with no cluster needed."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    n = workers or os.cpu_count() or 1
    sys.exit(run(config, host, admin_port or None, n, Limits(max_body=max_body), admin_host))
