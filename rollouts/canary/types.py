"""The inputs and outputs of the canary decision: what was observed, what to do.

All types here are frozen dataclasses: the core reads them, never mutates them, and
two equal inputs give two equal decisions. Adapters (the operator, the simulator)
build ``Observed`` from the world and carry out the ``Action``s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from rollouts.api.rollout import (
    AnalysisRunArgument,
    HeaderRoutingMatch,
    MirrorRouteMatch,
    RolloutAnalysisTemplateRef,
    RolloutStatus,
)

__all__ = [
    "WEIGHT_EPSILON",
    "Action",
    "AnalysisRunView",
    "CreateAnalysisRun",
    "Decision",
    "DeleteAnalysisRun",
    "DeletePod",
    "DeleteReplicaSet",
    "EmitEvent",
    "HeaderRoute",
    "MirrorRoute",
    "Observed",
    "PodView",
    "PointService",
    "ReplicaSetView",
    "RouteView",
    "ScaleReplicaSet",
    "ScaleWorkload",
    "SetHeaderRoute",
    "SetMirrorRoute",
    "SetWeight",
    "TerminateAnalysisRun",
]

Role = Literal["canary", "stable", "old"]
RunKind = Literal["step", "background"]
RouteKind = Literal["HTTPRoute", "GRPCRoute"]

WEIGHT_EPSILON = 1e-9
"""Canary weights closer than this are the same weight (float arithmetic aside)."""


@dataclass(frozen=True)
class PodView:
    """A pod of one of the Rollout's ReplicaSets (only what a restart needs)."""

    name: str
    pod_template_hash: str
    created_at: datetime
    ready: bool = True


@dataclass(frozen=True)
class ReplicaSetView:
    """A ReplicaSet the Rollout owns, as last observed."""

    pod_template_hash: str
    replicas: int
    ready_replicas: int = 0
    available_replicas: int = 0
    revision: int = 0
    scale_down_deadline: datetime | None = None
    name: str = ""


@dataclass(frozen=True)
class HeaderRoute:
    """A managed rule that sends requests matching headers to the canary."""

    name: str
    match: tuple[HeaderRoutingMatch, ...]


@dataclass(frozen=True)
class MirrorRoute:
    """A managed rule that mirrors a share of matching requests to the canary."""

    name: str
    percentage: float
    match: tuple[MirrorRouteMatch, ...]


@dataclass(frozen=True)
class RouteView:
    """An HTTPRoute or GRPCRoute named in trafficRouting, as read back from the API.

    ``verified`` is the adapter's verdict that the gateway applies what the route
    says (parents Accepted at the current generation and, for our own gateway, the
    stats show the split); ``waiting_for`` says why not when it is False.
    """

    name: str
    namespace: str = ""
    kind: RouteKind = "HTTPRoute"
    exists: bool = True
    canary_weight: float | None = 0.0
    verified: bool = True
    waiting_for: str = ""
    header_routes: tuple[HeaderRoute, ...] = ()
    mirror_routes: tuple[MirrorRoute, ...] = ()

    def carries(self, weight: float) -> bool:
        """Whether the route carries this canary weight (a route without one does not)."""
        return (self.canary_weight is not None
                and abs(self.canary_weight - weight) <= WEIGHT_EPSILON)


@dataclass(frozen=True)
class AnalysisRunView:
    """An AnalysisRun the Rollout owns: its name, phase and message."""

    name: str
    phase: str
    message: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class Observed:
    """Everything the core needs to know about the world besides the Rollout itself."""

    replica_sets: tuple[ReplicaSetView, ...] = ()
    routes: tuple[RouteView, ...] = ()
    analysis_runs: tuple[AnalysisRunView, ...] = ()
    services: Mapping[str, str | None] = field(default_factory=dict)
    template: Mapping[str, Any] | None = None
    """The pod template of a workloadRef'd Deployment (None: the Rollout's own)."""
    workload_replicas: int | None = None
    """spec.replicas of the workloadRef'd Deployment, when there is one."""
    pods: tuple[PodView, ...] = ()
    """The ReplicaSets' pods: needed only while spec.restartAt asks for a restart."""

    def replica_set(self, pod_hash: str | None) -> ReplicaSetView | None:
        return next((rs for rs in self.replica_sets if rs.pod_template_hash == pod_hash), None)

    def analysis_run(self, name: str) -> AnalysisRunView | None:
        return next((run for run in self.analysis_runs if run.name == name), None)


@dataclass(frozen=True)
class ScaleReplicaSet:
    """Create the ReplicaSet for ``pod_template_hash`` if missing, and scale it."""

    pod_template_hash: str
    replicas: int
    role: Role
    scale_down_deadline: datetime | None = None


@dataclass(frozen=True)
class PointService:
    """Point a Service's selector at the pods of one pod-template hash."""

    service: str
    pod_template_hash: str


@dataclass(frozen=True)
class SetWeight:
    """Write the canary's share of traffic (percent, fractional) into every route."""

    canary_weight: float
    canary_hash: str | None
    stable_hash: str | None


@dataclass(frozen=True)
class SetHeaderRoute:
    """Add or replace a managed header route; ``match`` empty removes it."""

    name: str
    match: tuple[HeaderRoutingMatch, ...]


@dataclass(frozen=True)
class SetMirrorRoute:
    """Add or replace a managed mirror route; ``match`` empty removes it."""

    name: str
    percentage: float
    match: tuple[MirrorRouteMatch, ...]


@dataclass(frozen=True)
class CreateAnalysisRun:
    """Start an AnalysisRun from the named templates with resolved arguments."""

    name: str
    kind: RunKind
    pod_template_hash: str
    templates: tuple[RolloutAnalysisTemplateRef, ...]
    args: tuple[AnalysisRunArgument, ...]
    step_index: int | None = None


@dataclass(frozen=True)
class TerminateAnalysisRun:
    name: str


@dataclass(frozen=True)
class ScaleWorkload:
    """Scale the workloadRef'd Deployment (its scaleDown policy says when)."""

    replicas: int


@dataclass(frozen=True)
class DeletePod:
    """Delete a pod so its ReplicaSet starts a fresh one (spec.restartAt)."""

    name: str


@dataclass(frozen=True)
class DeleteReplicaSet:
    """Delete an old ReplicaSet beyond revisionHistoryLimit."""

    pod_template_hash: str


@dataclass(frozen=True)
class DeleteAnalysisRun:
    """Delete a finished AnalysisRun beyond the run history limits."""

    name: str


@dataclass(frozen=True)
class EmitEvent:
    """A Kubernetes Event on the Rollout (type Normal or Warning)."""

    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"


Action = (
    ScaleReplicaSet
    | ScaleWorkload
    | DeleteReplicaSet
    | DeleteAnalysisRun
    | DeletePod
    | PointService
    | SetWeight
    | SetHeaderRoute
    | SetMirrorRoute
    | CreateAnalysisRun
    | TerminateAnalysisRun
    | EmitEvent
)


@dataclass(frozen=True)
class Decision:
    """The core's answer: the whole new status, the actions in order, when to look again."""

    status: RolloutStatus
    actions: tuple[Action, ...]
    requeue_after: float | None
