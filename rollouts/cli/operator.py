"""``rollouts operator``: the controller people deploy (kopf, leader-elected)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import click

from rollouts.kube.api import Kube, load_api_client
from rollouts.kube.leader import LeaderElector
from rollouts.kube.run import run_operator

__all__ = ["operator_command"]


@click.command("operator")
@click.option("--namespace", "-n", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable; default: all namespaces).")
@click.option("--kubeconfig", envvar="KUBECONFIG", help="Cluster to use (default: as kubectl "
              "finds it: KUBECONFIG, ~/.kube/config, then in-cluster).")
@click.option("--leader-election/--no-leader-election", default=True, show_default=True,
              help="Hold a Lease so that only one of several replicas reconciles.")
@click.option("--lease-namespace", envvar="POD_NAMESPACE", default="default",
              show_default=True)
@click.option("-v", "--verbose", is_flag=True)
def operator_command(namespaces: tuple[str, ...], kubeconfig: str | None,
                     leader_election: bool, lease_namespace: str, verbose: bool) -> None:
    """Run the Rollouts operator against the current cluster."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kube = Kube(load_api_client(kubeconfig))
    elector = LeaderElector(kube, namespace=lease_namespace) if leader_election else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_operator(kube, namespaces=namespaces, elector=elector))
