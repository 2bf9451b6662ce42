"""The ``rollouts`` command: one click group, each subcommand registered from its own module."""

from __future__ import annotations

import click

from rollouts import __version__
from rollouts.cli.analyze import analyze
from rollouts.cli.crds import crds
from rollouts.cli.gateway import gateway
from rollouts.cli.install import install_command
from rollouts.cli.lint import lint
from rollouts.cli.local import demo_app, local
from rollouts.cli.operator import operator_command
from rollouts.cli.simulate import simulate_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rollouts")
def cli() -> None:
    """Progressive delivery for the Kubernetes Gateway API."""


cli.add_command(analyze)
cli.add_command(crds)
cli.add_command(gateway)
cli.add_command(install_command)
cli.add_command(lint)
cli.add_command(local)
cli.add_command(demo_app)
cli.add_command(operator_command)
cli.add_command(simulate_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
