"""The ``rollouts`` command: one click group, each subcommand registered from its own module."""

from __future__ import annotations

import click

from rollouts import __version__

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rollouts")
def cli() -> None:
    """Progressive delivery for the Kubernetes Gateway API."""


def main() -> None:
    cli()
