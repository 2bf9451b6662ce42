"""``rollouts simulate FILE``: a Rollout's timeline, computed by the decision core alone.

No cluster is involved: a make-believe one carries out every action at once, pods
are ready when asked for, analysis runs end as the what-if flags say, and pauses
that wait for a person are promoted as a person would. What is printed is what the
operator would do, step by step, with the weights at each moment.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from rollouts.api.rollout import Rollout
from rollouts.api.validation import object_label, parse_object
from rollouts.canary.routing import route_refs
from rollouts.canary.simulation import TimelineEntry, simulate
from rollouts.canary.steps import step_label
from rollouts.canary.types import (
    Action,
    CreateAnalysisRun,
    EmitEvent,
    PointService,
    ScaleReplicaSet,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    TerminateAnalysisRun,
)

__all__ = ["simulate_command"]

_START = datetime(2000, 1, 1, tzinfo=UTC)
#: rollouts.api.analysis.TERMINAL_ANALYSIS_PHASES in the order --help lists them (a frozenset
#: has no stable order); tests/cli/test_simulate.py checks the two hold the same phases
_RESULTS = ("Successful", "Failed", "Inconclusive", "Error")


def _describe(action: Action, roles: dict[str, str]) -> str | None:
    if isinstance(action, ScaleReplicaSet):
        role = roles.get(action.pod_template_hash, action.role)
        pods = "pod" if action.replicas == 1 else "pods"
        if action.scale_down_deadline is not None:
            at = (action.scale_down_deadline - _START).total_seconds()
            return f"{role} {action.pod_template_hash} to scale down at {at:g}s"
        return f"scale {role} {action.pod_template_hash} to {action.replicas} {pods}"
    if isinstance(action, PointService):
        return f"Service {action.service} -> {action.pod_template_hash}"
    if isinstance(action, SetWeight):
        return f"weights: canary {action.canary_weight:g}%"
    if isinstance(action, SetHeaderRoute):
        return f"{'set' if action.match else 'remove'} header route {action.name}"
    if isinstance(action, SetMirrorRoute):
        return (f"mirror {action.percentage:g}% via {action.name}" if action.match
                else f"remove mirror route {action.name}")
    if isinstance(action, CreateAnalysisRun):
        return f"start analysis run {action.name}"
    if isinstance(action, TerminateAnalysisRun):
        return f"terminate analysis run {action.name}"
    if isinstance(action, EmitEvent) and action.reason in ("RolloutAborted", "RolloutPromoted",
                                                          "SkipSteps"):
        return action.message
    return None


def _load_rollout(path: str, name: str | None) -> Rollout:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise click.ClickException(f"{path}: not valid YAML: {error}") from error
    candidates = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Rollout"
                  and (name is None or (d.get("metadata") or {}).get("name") == name)]
    if not candidates:
        wanted = f"named {name!r} " if name else ""
        raise click.ClickException(f"{path}: no Rollout {wanted}found")
    if len(candidates) > 1:
        names = ", ".join(object_label(d) for d in candidates)
        raise click.ClickException(f"{path}: several Rollouts ({names}); choose one with --name")
    model, problems = parse_object(candidates[0])
    if problems or not isinstance(model, Rollout):
        lines = "\n".join(f"  {p}" for p in problems)
        raise click.ClickException(f"{path}: {object_label(candidates[0])} is invalid:\n{lines}")
    return model


def _verdict(result: str, at_step: int | None) -> Any:
    def verdict(run: CreateAnalysisRun) -> tuple[str, str]:
        applies = at_step is None or (run.kind == "step" and run.step_index == at_step - 1)
        if not applies or result == "Successful":
            return "Successful", ""
        return result, f"what-if: {run.name} assessed {result}"
    return verdict


def _format(entry: TimelineEntry, roles: dict[str, str], width: int) -> str:
    weight = "-" if entry.canary_weight is None else f"{entry.canary_weight:g}%"
    happenings = [d for a in entry.actions if (d := _describe(a, roles))]
    if entry.note:
        happenings.insert(0, f"[{entry.note}]")
    what = "; ".join(happenings) or (entry.message or "")
    return f"{entry.at:>7.0f}s  {entry.step:<{width}} {weight:>7}  {entry.phase:<12} {what}"


@click.command("simulate")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--name", help="Which Rollout, when FILE holds several.")
@click.option("--analysis-result", type=click.Choice(_RESULTS), default="Successful",
              show_default=True, help="What-if: how analysis runs end.")
@click.option("--fail-analysis", is_flag=True, help="What-if: analysis fails "
              "(same as --analysis-result Failed).")
@click.option("--at-step", type=int, help="Apply the what-if only to the analysis of this "
              "step (1-based); background analysis then succeeds.")
def simulate_command(file: str, name: str | None, analysis_result: str, fail_analysis: bool,
                     at_step: int | None) -> None:
    """Print the timeline of a Rollout update: steps, weights, pauses, analysis gates."""
    rollout = _load_rollout(file, name)
    if fail_analysis:
        analysis_result = "Failed"
    steps = rollout.steps
    if at_step is not None and not (1 <= at_step <= len(steps)
                                    and steps[at_step - 1].analysis is not None):
        raise click.BadParameter(f"step {at_step} is not an analysis step", param_hint="--at-step")
    routes = [f"{kind} {route}" for kind, route, _namespace in route_refs(rollout)]
    via = "traffic via " + ", ".join(routes) if routes else "no traffic routing (replica ratio)"
    click.echo(f"{object_label(rollout.to_dict())}: {rollout.spec.replicas} replicas, "
               f"{len(steps)} steps, {via}")
    if analysis_result != "Successful":
        where = f"step {at_step}" if at_step else "every analysis"
        click.echo(f"what-if: {where} ends {analysis_result}")
    width = max([34, *(len(f"{i + 1}/{len(steps)} {step_label(s)}")
                       for i, s in enumerate(steps))])
    click.echo(f"{'time':>8}  {'step':<{width}} {'canary':>7}  {'phase':<12} what happens")
    roles: dict[str, str] = {}
    last: TimelineEntry | None = None
    for entry in simulate(rollout, verdict=_verdict(analysis_result, at_step), start=_START):
        for action in entry.actions:
            if isinstance(action, ScaleReplicaSet):
                roles.setdefault(action.pod_template_hash, action.role)
        if entry.actions or entry.note or last is None or entry.phase != last.phase \
                or entry.message != last.message:
            click.echo(_format(entry, roles, width))
        last = entry
    if last is not None:
        click.echo(f"result: {last.phase} after {last.at:g}s"
                   + (f" ({last.message})" if last.message else ""))
