"""``rollouts operator``: the controller people deploy (kopf, leader-elected).

With a cluster configured (KUBECONFIG, ~/.kube/config, or in-cluster) it reconciles
that cluster. With none, it runs in local mode: the embedded API server and workload
runner start in this process, our CRDs are installed, and our gateway serves the
cluster's Gateways on loopback, so one command gives a working setup on a laptop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

import click
import yaml

from rollouts.api.crds import all_crds
from rollouts.cli.local import default_data_dir
from rollouts.kube.api import Kube, load_api_client
from rollouts.kube.gateway_watch import serve_cluster
from rollouts.kube.leader import LeaderElector
from rollouts.kube.run import run_operator
from rollouts.local.testing import ServerThread

__all__ = ["cluster_configured", "operator_command"]

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def cluster_configured(kubeconfig: str | None) -> bool:
    """Whether a cluster is configured the way kubectl (and the client) would find one."""
    return bool(kubeconfig or os.environ.get("KUBECONFIG")
                or Path("~/.kube/config").expanduser().exists()
                or os.environ.get("KUBERNETES_SERVICE_HOST"))


def install_crds(kube: Kube) -> None:
    """Create our CRDs, or bring them up to date."""
    for crd in all_crds():
        existing = kube.find(CRD, crd["metadata"]["name"])
        if existing is None:
            kube.create(CRD, crd)
        else:
            crd["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            kube.replace(CRD, crd)


async def _until_signal(*tasks: asyncio.Task[None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)


def _apply_crd_files(kube: Kube, path: Path) -> None:
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    for file in files:
        for doc in yaml.safe_load_all(file.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition" \
                    and kube.find(CRD, doc["metadata"]["name"]) is None:
                kube.create(CRD, doc)


def _run_local(data_dir: Path, port: int, gateway_port: int,
               gateway_api_crds: Path | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    with ServerThread(data_dir=data_dir, kubeconfig=data_dir / "kubeconfig", port=port,
                      workloads=True) as server:
        kube = Kube(load_api_client(str(server.kubeconfig)))
        install_crds(kube)
        if gateway_api_crds is not None:
            _apply_crd_files(kube, gateway_api_crds)
        click.echo(f"local mode: API server {server.url}, state in {data_dir}\n"
                   f"  export KUBECONFIG={server.kubeconfig}\n"
                   f"  gateway listeners bind 127.0.0.1; gateway admin on 127.0.0.1:"
                   f"{gateway_port}")

        async def main() -> None:
            stop = asyncio.Event()
            gateway = asyncio.create_task(serve_cluster(
                Kube(load_api_client(str(server.kubeconfig))), host="127.0.0.1",
                admin_port=gateway_port, stop=stop))
            operator = asyncio.create_task(run_operator(
                kube, stop=stop, gateway_admin=f"http://127.0.0.1:{gateway_port}"))
            try:
                await _until_signal(gateway, operator)
            finally:
                stop.set()
                for task in (operator, gateway):
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(task, timeout=20)

        asyncio.run(main())


@click.command("operator")
@click.option("--namespace", "-n", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable; default: all namespaces).")
@click.option("--kubeconfig", envvar="KUBECONFIG", help="Cluster to use (default: as kubectl "
              "finds it: KUBECONFIG, ~/.kube/config, then in-cluster).")
@click.option("--local/--no-local", "local_mode", default=None,
              help="Run on the embedded local mode [default: when no cluster is configured].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local mode: state and kubeconfig [default: ~/.local/share/rollouts/local].")
@click.option("--port", type=int, default=16443, show_default=True,
              help="Local mode: the API server's port.")
@click.option("--gateway-admin-port", type=int, default=9901, show_default=True,
              help="Local mode: the gateway's /metrics and /stats port.")
@click.option("--gateway-api-crds", type=click.Path(exists=True, path_type=Path),
              default=None, help="Local mode: a file or directory of the upstream Gateway "
              "API CRDs to install (e.g. the release's standard-install.yaml).")
@click.option("--gateway-admin", envvar="ROLLOUTS_GATEWAY_ADMIN", default=None,
              help="Admin address of our gateway (http://HOST:9901): weights of routes it "
              "serves count only once its serving table has them.")
@click.option("--leader-election/--no-leader-election", default=True, show_default=True,
              help="Hold a Lease so that only one of several replicas reconciles.")
@click.option("--lease-namespace", envvar="POD_NAMESPACE", default="default",
              show_default=True)
@click.option("-v", "--verbose", is_flag=True)
def operator_command(namespaces: tuple[str, ...], kubeconfig: str | None,
                     local_mode: bool | None, data_dir: Path | None, port: int,
                     gateway_admin_port: int, gateway_api_crds: Path | None,
                     gateway_admin: str | None, leader_election: bool, lease_namespace: str,
                     verbose: bool) -> None:
    """Run the Rollouts operator (in local mode when no cluster is configured)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kopf.objects", "kopf.activities"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if local_mode or (local_mode is None and not cluster_configured(kubeconfig)):
        _run_local(data_dir or default_data_dir(), port, gateway_admin_port, gateway_api_crds)
        return
    kube = Kube(load_api_client(kubeconfig))
    elector = LeaderElector(kube, namespace=lease_namespace) if leader_election else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_operator(kube, namespaces=namespaces, elector=elector,
                                 gateway_admin=gateway_admin))
