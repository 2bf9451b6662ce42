"""A make-believe cluster for the decision core: it carries out actions at once.

``rollouts simulate`` uses it to print a Rollout's timeline from the core alone, and
the tests use it to drive the core through whole rollouts and random event orders.
Nothing here does I/O or reads a clock: time is whatever the caller says it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.api.rollout import Rollout
from rollouts.canary.decide import decide
from rollouts.canary.hashing import pod_template_hash
from rollouts.canary.routing import route_refs
from rollouts.canary.steps import step_label
from rollouts.canary.types import (
    Action,
    AnalysisRunView,
    CreateAnalysisRun,
    Decision,
    DeleteAnalysisRun,
    DeletePod,
    DeleteReplicaSet,
    HeaderRoute,
    MirrorRoute,
    Observed,
    PodView,
    PointService,
    ReplicaSetView,
    RouteView,
    ScaleReplicaSet,
    ScaleWorkload,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    TerminateAnalysisRun,
)

__all__ = ["AnalysisVerdict", "FakeCluster", "TimelineEntry", "simulate"]

AnalysisVerdict = Callable[[CreateAnalysisRun], tuple[str, str]]
"""Decides the phase (and message) an AnalysisRun ends with, from its creation."""


def _always_successful(run: CreateAnalysisRun) -> tuple[str, str]:
    return "Successful", ""


@dataclass
class FakeCluster:
    """Holds ReplicaSets, Services, routes and AnalysisRuns and applies actions to them.

    Pods become ready the moment a ReplicaSet is scaled up unless ``auto_ready`` is
    off; AnalysisRuns end at once with ``verdict``'s phase unless ``auto_analysis``
    is off (then call ``finish_run``).
    """

    rollout: Rollout
    verdict: AnalysisVerdict = _always_successful
    auto_ready: bool = True
    auto_analysis: bool = True
    verified: bool = True
    replica_sets: dict[str, ReplicaSetView] = field(default_factory=dict)
    services: dict[str, str | None] = field(default_factory=dict)
    routes: list[RouteView] = field(default_factory=list)
    runs: dict[str, AnalysisRunView] = field(default_factory=dict)
    applied: list[Action] = field(default_factory=list)
    workload_replicas: int | None = None
    workload_template: dict[str, Any] | None = None
    pods: list[PodView] = field(default_factory=list)
    clock: int = 0

    def __post_init__(self) -> None:
        canary = self.rollout.canary
        for service in (canary.canary_service, canary.stable_service):
            if service:
                self.services.setdefault(service, None)
        if not self.routes:
            self.routes = [RouteView(name, namespace, kind, verified=self.verified)
                           for kind, name, namespace in route_refs(self.rollout)]

    # -- observing --------------------------------------------------------------------

    def observe(self) -> Observed:
        return Observed(
            replica_sets=tuple(self.replica_sets[h] for h in sorted(self.replica_sets)),
            routes=tuple(self.routes),
            analysis_runs=tuple(self.runs[n] for n in sorted(self.runs)),
            services=dict(self.services),
            workload_replicas=self.workload_replicas,
            template=self.workload_template,
            pods=tuple(self.pods),
        )

    def canary_weight(self) -> float:
        return max((r.canary_weight or 0.0 for r in self.routes), default=0.0)

    # -- acting -----------------------------------------------------------------------

    def apply(self, decision: Decision) -> None:
        """Carry out the decision's actions and store its status on the Rollout."""
        for action in decision.actions:
            self.applied.append(action)
            self._apply(action)
        self.rollout = self.rollout.model_copy(update={"status": decision.status})

    def _apply(self, action: Action) -> None:
        if isinstance(action, ScaleReplicaSet):
            old = self.replica_sets.get(action.pod_template_hash)
            revision = old.revision if old else 1 + max(
                (rs.revision for rs in self.replica_sets.values()), default=0)
            ready = action.replicas if self.auto_ready else min(
                old.ready_replicas if old else 0, action.replicas)
            self.replica_sets[action.pod_template_hash] = ReplicaSetView(
                pod_template_hash=action.pod_template_hash, replicas=action.replicas,
                ready_replicas=ready, available_replicas=ready, revision=revision,
                scale_down_deadline=action.scale_down_deadline,
                name=f"{self.rollout.metadata.name}-{action.pod_template_hash}")
        elif isinstance(action, PointService):
            self.services[action.service] = action.pod_template_hash
        elif isinstance(action, SetWeight):
            self.routes = [dataclasses.replace(r, canary_weight=action.canary_weight,
                                               verified=self.verified) for r in self.routes]
        elif isinstance(action, SetHeaderRoute):
            self.routes = [dataclasses.replace(r, header_routes=_replace_named(
                r.header_routes, action.name,
                HeaderRoute(action.name, action.match) if action.match else None))
                for r in self.routes]
        elif isinstance(action, SetMirrorRoute):
            self.routes = [dataclasses.replace(r, mirror_routes=_replace_named(
                r.mirror_routes, action.name,
                MirrorRoute(action.name, action.percentage, action.match)
                if action.match else None)) for r in self.routes]
        elif isinstance(action, CreateAnalysisRun):
            if self.auto_analysis:
                phase, message = self.verdict(action)
            else:
                phase, message = "Running", ""
            self.clock += 1
            created = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=self.clock)
            self.runs[action.name] = AnalysisRunView(action.name, phase, message, created)
        elif isinstance(action, DeletePod):
            self.pods = [p for p in self.pods if p.name != action.name]
        elif isinstance(action, DeleteReplicaSet):
            self.replica_sets.pop(action.pod_template_hash, None)
        elif isinstance(action, DeleteAnalysisRun):
            self.runs.pop(action.name, None)
        elif isinstance(action, ScaleWorkload):
            self.workload_replicas = action.replicas
        elif isinstance(action, TerminateAnalysisRun):
            run = self.runs.get(action.name)
            if run is not None and run.phase in ("Pending", "Running"):
                self.runs[action.name] = dataclasses.replace(run, phase="Successful",
                                                             message="terminated")

    # -- what tests and users do -------------------------------------------------------

    def set_ready(self, pod_hash: str, ready: int) -> None:
        rs = self.replica_sets[pod_hash]
        ready = min(ready, rs.replicas)
        self.replica_sets[pod_hash] = dataclasses.replace(rs, ready_replicas=ready,
                                                          available_replicas=ready)

    def finish_run(self, name: str, phase: str, message: str = "") -> None:
        self.runs[name] = dataclasses.replace(self.runs[name], phase=phase, message=message)

    def patch_status(self, **fields: Any) -> None:
        status = self.rollout.status
        assert status is not None
        self.rollout = self.rollout.model_copy(
            update={"status": status.model_copy(update=fields)})

    def patch_spec(self, **fields: Any) -> None:
        self.rollout = self.rollout.model_copy(
            update={"spec": self.rollout.spec.model_copy(update=fields)})

    def promote(self) -> None:
        """What ``kubectl rollouts promote`` patches: clear the pause, or skip a step."""
        status = self.rollout.status
        assert status is not None
        if status.pause_conditions or self.rollout.spec.paused:
            self.patch_spec(paused=False)
            self.patch_status(pause_conditions=None)
        else:
            self.patch_status(current_step_index=(status.current_step_index or 0) + 1)

    def change_template(self, marker: str) -> str:
        """Change the pod template (as a new image would) and return its hash."""
        template = dict(self.rollout.spec.template or {})
        metadata = dict(template.get("metadata") or {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                   "rollouts.dev/revision-marker": marker}
        template["metadata"] = metadata
        self.patch_spec(template=template)
        return pod_template_hash(template)


def _replace_named(items: tuple[Any, ...], name: str, new: Any) -> tuple[Any, ...]:
    kept = tuple(item for item in items if item.name != name)
    return kept + ((new,) if new is not None else ())


@dataclass(frozen=True)
class TimelineEntry:
    """One decision of a simulated rollout, as ``rollouts simulate`` prints it."""

    at: float
    step: str
    canary_weight: float | None
    phase: str
    message: str
    actions: tuple[Action, ...]
    note: str = ""


def simulate(
    rollout: Rollout,
    *,
    verdict: AnalysisVerdict = _always_successful,
    start: datetime,
    max_decisions: int = 500,
) -> Iterator[TimelineEntry]:
    """Deploy ``rollout`` as stable, change its template, and follow the canary to its end.

    Pauses without a duration are promoted as a user would; the run stops when the
    Rollout is Healthy or Degraded again.
    """
    cluster = FakeCluster(rollout.model_copy(update={"status": None}), verdict=verdict)
    now = start
    cluster.apply(decide(cluster.rollout, cluster.observe(), now))
    cluster.apply(decide(cluster.rollout, cluster.observe(), now))
    cluster.change_template("simulated-update")
    steps = cluster.rollout.steps
    note = "pod template changed"
    for _ in range(max_decisions):
        decision = decide(cluster.rollout, cluster.observe(), now)
        cluster.apply(decision)
        status = decision.status
        index = status.current_step_index
        if index is not None and index < len(steps):
            step = f"{index + 1}/{len(steps)} {step_label(steps[index])}"
        else:
            step = "done" if steps else "-"
        weights = status.canary.weights if status.canary else None
        yield TimelineEntry(
            at=(now - start).total_seconds(), step=step,
            canary_weight=weights.canary.weight if weights else None,
            phase=status.phase or "", message=status.message or "",
            actions=decision.actions, note=note)
        note = ""
        if decision.actions:
            continue
        message = status.message or ""
        if status.phase == "Paused" and ("waiting for promote" in message
                                         or "inconclusive" in message):
            cluster.promote()
            note = "user: kubectl rollouts promote"
            continue
        if decision.requeue_after is None:
            return
        now += timedelta(seconds=max(decision.requeue_after, 0.001))
