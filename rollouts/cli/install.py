"""``rollouts install``: print the manifests that install the operator on a cluster."""

from __future__ import annotations

import click
import yaml

from rollouts.kube.rbac import install_manifests

__all__ = ["install_command"]


@click.command("install")
@click.option("--image", help="Operator image (default: rollouts-operator:VERSION, built from "
              "the Dockerfile).")
def install_command(image: str | None) -> None:
    """Print namespace, CRDs, RBAC and the operator Deployment: pipe to kubectl apply -f -."""
    click.echo(yaml.safe_dump_all(install_manifests(image), sort_keys=False), nl=False)
