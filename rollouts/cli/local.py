"""``rollouts local up`` (the embedded API server and workload runner) and ``rollouts demo-app``."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import click

from rollouts.local.demoapp import DemoConfig
from rollouts.local.demoapp import run as run_demo_app
from rollouts.local.server import LocalServer

__all__ = ["default_data_dir", "demo_app", "local"]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/rollouts/local``, by default ``~/.local/share/rollouts/local``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rollouts" / "local"


@click.group("local")
def local() -> None:
    """Local mode: a Kubernetes-compatible API server and workload runner on this machine."""


@local.command("up")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where state, pod logs and the kubeconfig live [default: ~/.local/share/rollouts/local].",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; loopback only unless --allow-non-loopback.",
)
@click.option(
    "--port", type=int, default=16443, show_default=True, help="Port to bind (0 picks a free one)."
)
@click.option(
    "--allow-non-loopback",
    is_flag=True,
    help="Bind a non-loopback address although there is no authentication.",
)
@click.option(
    "--workloads/--no-workloads",
    default=True,
    show_default=True,
    help="Run Deployments, ReplicaSets and pods as local processes.",
)
def up(
    data_dir: Path | None, host: str, port: int, allow_non_loopback: bool, workloads: bool
) -> None:
    """Start the local control plane in the foreground until Ctrl-C or SIGTERM."""
    data_dir = data_dir or default_data_dir()
    try:
        server = LocalServer(
            data_dir=data_dir,
            host=host,
            port=port,
            allow_non_loopback=allow_non_loopback,
            workloads=workloads,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    asyncio.run(_serve(server))


async def _serve(server: LocalServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {server.host}:{server.port}: {exc}") from None
    kubeconfig = server.write_kubeconfig()
    click.echo(f"rollouts local API server listening on {server.url}")
    click.echo(f"kubeconfig: {kubeconfig}")
    click.echo(f"  export KUBECONFIG={kubeconfig}")
    try:
        await stop.wait()
    finally:
        click.echo("stopping local control plane")
        await server.stop()


@click.command("demo-app")
@click.option(
    "--app-version",
    "version",
    default=lambda: os.environ.get("APP_VERSION", "v1"),
    show_default="v1",
    help="Version the app reports.",
)
@click.option(
    "--host",
    default=lambda: os.environ.get("POD_IP", "127.0.0.1"),
    show_default="$POD_IP or 127.0.0.1",
)
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("PORT", "8080")),
    show_default="$PORT or 8080",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered with HTTP 500.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Latency added to every request.",
)
def demo_app(version: str, host: str, port: int, error_rate: float, latency_ms: float) -> None:
    """The demo app: reports its version, injects 5xx and latency, exports /metrics."""
    run_demo_app(host, port, DemoConfig(version, error_rate, latency_ms))
