"""``rollouts analyze TEMPLATE --arg k=v``: run an analysis from the command line.

Why this exists: trying a template against a real Prometheus (or the gateway) before a
Rollout depends on it. The template's own provider addresses are used with the args
substituted; every measurement is printed as it is taken, then the run's final phase.
Exit status 0 only when the run is Successful (1 otherwise, 2 for an invalid template).
Ctrl-C terminates the run: it then ends Successful unless something already failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import click
import yaml

from rollouts.analysis.args import build_run
from rollouts.analysis.checks import manifest_problems
from rollouts.analysis.engine import RunEngine
from rollouts.api.analysis import (
    AnalysisRun,
    AnalysisRunStatus,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    Measurement,
)
from rollouts.api.validation import object_label

__all__ = ["analyze"]

_COLORS = {"Successful": "green", "Failed": "red", "Error": "red", "Inconclusive": "yellow"}


def _load(path: Path) -> list[AnalysisTemplate | ClusterAnalysisTemplate]:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, yaml.YAMLError) as error:
        raise click.ClickException(f"cannot read {path}: {error}") from None
    templates: list[AnalysisTemplate | ClusterAnalysisTemplate] = []
    failures: list[str] = []
    for doc in documents:
        model, problems = manifest_problems(doc)
        label = object_label(doc) if isinstance(doc, dict) else str(path)
        if problems:
            failures += [f"{path}: {label}: {p}" for p in problems]
        elif isinstance(model, AnalysisTemplate | ClusterAnalysisTemplate):
            templates.append(model)
        elif model is not None:
            failures.append(f"{path}: {label}: analyze runs AnalysisTemplates and "
                            "ClusterAnalysisTemplates only")
    if failures:
        for line in failures:
            click.echo(line, err=True)
        raise SystemExit(2)
    if not templates:
        raise click.ClickException(f"{path} holds no AnalysisTemplate")
    return templates


def _parse_args(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", param_hint="--arg")
        values[name] = value
    return values


def _print_measurement(metric: str, measurement: Measurement, width: int = 0) -> None:
    when = measurement.finished_at.strftime("%H:%M:%S") if measurement.finished_at else "--:--:--"
    phase = click.style(measurement.phase.ljust(12), fg=_COLORS.get(measurement.phase))
    parts = [when, metric.ljust(width), phase.rstrip() if not measurement.value else phase]
    if measurement.value is not None:
        parts.append(f"value={measurement.value}")
    if measurement.message:
        parts.append(f"({measurement.message})")
    click.echo("  ".join(parts))


async def _run(run: AnalysisRun) -> AnalysisRunStatus:
    width = max(len(m.name) for m in run.spec.metrics)
    engine = RunEngine(run, on_measurement=lambda name, m: _print_measurement(name, m, width))
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, engine.terminate)
        loop.add_signal_handler(signal.SIGTERM, engine.terminate)
    try:
        return await engine.run()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)


@click.command("analyze")
@click.argument("template", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--arg", "-a", "arg_pairs", multiple=True, metavar="NAME=VALUE",
              help="Value of a template argument (repeatable); overrides the template's.")
@click.option("--name", default=None, help="Name of the AnalysisRun (default: from the file).")
def analyze(template: Path, arg_pairs: tuple[str, ...], name: str | None) -> None:
    """Run the AnalysisTemplate(s) in TEMPLATE once and print every measurement.

    Several templates in one file are merged into one run, as a Rollout step with
    several templateNames would. Exits 0 only if the run ends Successful.
    """
    templates = _load(template)
    args = _parse_args(arg_pairs)
    run = build_run(templates, args, name=name or f"{templates[0].metadata.name}-cli")
    declared = {a.name for a in run.spec.args or []}
    for unknown in sorted(set(args) - declared):
        click.echo(f"warning: --arg {unknown} is not an argument of the template", err=True)
    status = asyncio.run(_run(run))
    _print_final(run, status)
    if status.phase != "Successful":
        raise SystemExit(1)


def _print_final(run: AnalysisRun, status: AnalysisRunStatus) -> None:
    phase = status.phase or "Error"
    styled = click.style(phase, fg=_COLORS.get(phase), bold=True)
    click.echo(f"AnalysisRun {run.metadata.name}: {styled}")
    if status.message:
        click.echo(f"  {status.message}")
    for result in status.metric_results or []:
        extra: dict[str, Any] = {"measurements": result.count, "errors": result.error}
        detail = ", ".join(f"{k}={v}" for k, v in extra.items())
        dry = " (dry run)" if result.dry_run else ""
        click.echo(f"  {result.name}{dry}: {result.phase} ({detail})")
