"""From the desired state to the ordered actions that reach it from what was observed.

The recipe says what the world should look like; this module says what to change,
and in which order: scale up, point Services, move traffic, managed routes,
analysis, then scale down, so traffic never reaches pods that are not there.
Nothing is emitted for what already holds, so applying a decision and observing
again converges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rollouts.canary.types import (
    Action,
    CreateAnalysisRun,
    EmitEvent,
    HeaderRoute,
    MirrorRoute,
    Observed,
    PointService,
    Role,
    ScaleReplicaSet,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    TerminateAnalysisRun,
)

__all__ = ["Desired", "plan_actions"]


@dataclass
class Desired:
    """The state the decision wants; filled in by the recipe, turned into actions here."""

    replicas: dict[str, tuple[int, Role, datetime | None]] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    canary_weight: float | None = None
    canary_hash: str | None = None
    stable_hash: str | None = None
    header_routes: dict[str, HeaderRoute] | None = None
    mirror_routes: dict[str, MirrorRoute] | None = None
    managed_route_names: tuple[str, ...] = ()
    create_runs: list[CreateAnalysisRun] = field(default_factory=list)
    terminate_runs: list[str] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)

    def scale(self, pod_hash: str, replicas: int, role: Role,
              deadline: datetime | None = None) -> None:
        self.replicas[pod_hash] = (max(replicas, 0), role, deadline)

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(EmitEvent(reason, message, "Warning" if warning else "Normal"))


def _weights_differ(desired: float, observed: Observed) -> bool:
    return any(not route.carries(desired) for route in observed.routes if route.exists)


def _scale_actions(desired: Desired, observed: Observed) -> tuple[list[Action], list[Action]]:
    ups: list[Action] = []
    downs: list[Action] = []
    for pod_hash, (replicas, role, deadline) in sorted(desired.replicas.items()):
        rs = observed.replica_set(pod_hash)
        if rs is not None and rs.replicas == replicas and rs.scale_down_deadline == deadline:
            continue
        action = ScaleReplicaSet(pod_hash, replicas, role, deadline)
        (downs if rs is not None and replicas < rs.replicas else ups).append(action)
    return ups, downs


def _route_actions(desired: Desired, observed: Observed) -> list[Action]:
    actions: list[Action] = []
    present = [r for r in observed.routes if r.exists]
    if desired.header_routes is not None:
        for name in desired.managed_route_names:
            want = desired.header_routes.get(name)
            have = [next((h for h in r.header_routes if h.name == name), None) for r in present]
            if any(h != want for h in have):
                actions.append(SetHeaderRoute(name, want.match if want else ()))
    if desired.mirror_routes is not None:
        for name in desired.managed_route_names:
            mirror = desired.mirror_routes.get(name)
            seen = [next((m for m in r.mirror_routes if m.name == name), None) for r in present]
            if any(m != mirror for m in seen):
                actions.append(SetMirrorRoute(name, mirror.percentage if mirror else 0.0,
                                              mirror.match if mirror else ()))
    return actions


def plan_actions(desired: Desired, observed: Observed) -> tuple[Action, ...]:
    """The ordered actions that take ``observed`` to ``desired``."""
    ups, downs = _scale_actions(desired, observed)
    actions: list[Action] = list(ups)
    for service, pod_hash in sorted(desired.services.items()):
        if observed.services.get(service) != pod_hash:
            actions.append(PointService(service, pod_hash))
    if desired.canary_weight is not None and _weights_differ(desired.canary_weight, observed):
        actions.append(SetWeight(desired.canary_weight, desired.canary_hash, desired.stable_hash))
    actions += _route_actions(desired, observed)
    for run in desired.create_runs:
        if observed.analysis_run(run.name) is None:
            actions.append(run)
    for name in sorted(set(desired.terminate_runs)):
        actions.append(TerminateAnalysisRun(name))
    actions += downs
    actions += desired.events
    return tuple(actions)
