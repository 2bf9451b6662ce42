"""``rollouts gateway``: run the built-in Gateway API data plane."""

from __future__ import annotations

import logging
import os
import sys

import click

from rollouts.gateway.http1 import Limits
from rollouts.gateway.run import fork_workers, run, tune_worker_process

__all__ = ["gateway"]


@click.command("gateway")
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True),
    default=None,
    help="Directory (or file) of manifests: GatewayClass, Gateway, HTTPRoute, "
    "Service, EndpointSlice, ReferenceGrant, Secret. Reloaded on change. Without it, "
    "the gateway watches the Kubernetes API (found as kubectl finds it) and writes status.",
)
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None,
              help="Cluster to watch when there is no --config.")
@click.option("--leader-election/--no-leader-election", default=True, show_default=True,
              help="Cluster mode: only the replica holding the Lease writes status "
              "(its worker 0).")
@click.option("--lease-namespace", envvar="POD_NAMESPACE", default="default",
              show_default=True)
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
    help="Worker processes sharing the ports (SO_REUSEPORT); 0 = CPU count. Without "
    "--config each worker watches the API; worker 0 serves the admin port and writes status.",
)
@click.option("--max-body", type=int, default=None, help="Largest request body, bytes.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def gateway(config: str | None, kubeconfig: str | None, leader_election: bool,
            lease_namespace: str, host: str, admin_port: int, admin_host: str, workers: int,
            max_body: int | None, log_level: str) -> None:  # fmt: skip
    """Serve Gateways and HTTPRoutes: from manifests (--config), or from the cluster."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    n = workers or os.cpu_count() or 1
    limits = Limits(max_body=max_body)
    if config is None:
        sys.exit(_serve_cluster(kubeconfig, leader_election, lease_namespace, host,
                                admin_port, admin_host, n, limits))
    sys.exit(run(config, host, admin_port or None, n, limits, admin_host))


def _serve_cluster(kubeconfig: str | None, leader_election: bool, lease_namespace: str,
                   host: str, admin_port: int, admin_host: str, workers: int = 1,
                   limits: Limits | None = None) -> int:
    """Watch the API and serve it: one process, or ``workers`` forked processes that
    each watch and serve (worker 0: admin port, Lease, status). Returns the exit code."""
    from rollouts.kube.api import load_api_client

    try:
        load_api_client(kubeconfig)  # fail fast, before forking, when there is no cluster
    except Exception as error:
        print(f"error: cannot load the cluster configuration: {error}", file=sys.stderr)
        return 2
    if workers <= 1:
        _cluster_worker(kubeconfig, leader_election, lease_namespace, host, admin_port,
                        admin_host, limits, 0, 1, None)
        return 0

    def child(index: int, stats_dir: str) -> None:
        _cluster_worker(kubeconfig, leader_election, lease_namespace, host, admin_port,
                        admin_host, limits, index, workers, stats_dir)

    return fork_workers(workers, child)


def _cluster_worker(kubeconfig: str | None, leader_election: bool, lease_namespace: str,
                    host: str, admin_port: int, admin_host: str, limits: Limits | None,
                    index: int, workers: int, stats_dir: str | None) -> None:
    import asyncio
    import contextlib
    import signal

    from rollouts.kube.api import Kube, load_api_client
    from rollouts.kube.gateway_watch import serve_cluster
    from rollouts.kube.leader import LeaderElector

    api = load_api_client(kubeconfig)  # each process its own client and connections
    if workers > 1:  # API server logs and audits then tell which process did what
        api.user_agent = f"rollouts-gateway/worker-{index} (pid {os.getpid()})"
    kube = Kube(api)
    # serve_cluster leaves the Lease (and status) to worker 0 alone
    elector = (LeaderElector(kube, name="rollouts-gateway", namespace=lease_namespace)
               if leader_election else None)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_cluster(kube, host=host, admin_port=admin_port or None,
                            admin_host=admin_host, elector=elector, stop=stop, limits=limits,
                            worker=index, workers=workers, stats_dir=stats_dir)

    tune_worker_process()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
