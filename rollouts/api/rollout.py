"""The Rollout resource (``rollouts.dev/v1alpha1``): spec and status.

Field names and defaults follow Argo Rollouts' canary strategy (see ANCHORS.md) so
an Argo manifest converts mechanically; traffic routing is native Gateway API.
Blue-green and experiments are not modelled yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from rollouts.api.base import (
    Condition,
    Duration,
    IntOrString,
    KubeObject,
    LabelSelector,
    Model,
)

__all__ = [
    "GROUP",
    "VERSION",
    "AnalysisRunArgument",
    "ArgumentValueFrom",
    "CanaryStatus",
    "CanaryStep",
    "CanaryStrategy",
    "FieldRef",
    "GatewayAPITrafficRouting",
    "HeaderRoutingMatch",
    "ManagedRoute",
    "MirrorRouteMatch",
    "PauseCondition",
    "PodMetadata",
    "RollbackWindow",
    "Rollout",
    "RolloutAnalysis",
    "RolloutAnalysisBackground",
    "RolloutAnalysisRunStatus",
    "RolloutAnalysisTemplateRef",
    "RolloutPause",
    "RolloutSpec",
    "RolloutStatus",
    "RouteReference",
    "SetCanaryScale",
    "SetHeaderRoute",
    "SetMirrorRoute",
    "Strategy",
    "StringMatch",
    "TrafficRouting",
    "TrafficWeights",
    "WeightDestination",
    "WorkloadRef",
]

GROUP = "rollouts.dev"
VERSION = "v1alpha1"


class WorkloadRef(Model):
    """An existing Deployment whose pod template the Rollout takes over."""

    api_version: str = "apps/v1"
    kind: str = "Deployment"
    name: str
    scale_down: Literal["never", "onsuccess", "progressively"] = "never"


class RollbackWindow(Model):
    revisions: int = Field(default=0, ge=0)


class AnalysisHistory(Model):
    successful_run_history_limit: int = Field(default=5, ge=0)
    unsuccessful_run_history_limit: int = Field(default=5, ge=0)


class FieldRef(Model):
    field_path: str


class ArgumentValueFrom(Model):
    pod_template_hash_value: Literal["Stable", "Latest"] | None = None
    field_ref: FieldRef | None = None


class AnalysisRunArgument(Model):
    """An argument passed from a Rollout step to an analysis template."""

    name: str
    value: str | None = None
    value_from: ArgumentValueFrom | None = None


class RolloutAnalysisTemplateRef(Model):
    template_name: str
    cluster_scope: bool = False


class DryRun(Model):
    metric_name: str


class MeasurementRetention(Model):
    metric_name: str
    limit: int = Field(ge=0)


class RolloutAnalysis(Model):
    """An analysis step, or the base of background analysis."""

    templates: list[RolloutAnalysisTemplateRef] = Field(min_length=1)
    args: list[AnalysisRunArgument] | None = None
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None


class RolloutAnalysisBackground(RolloutAnalysis):
    """Analysis that runs across steps, from ``startingStep`` on, and aborts on failure."""

    starting_step: int | None = Field(default=None, ge=0)


class RolloutPause(Model):
    """A pause step: with a duration it resumes by itself, without one it waits for promote."""

    duration: Duration | None = None


class SetCanaryScale(Model):
    """Decouples canary replicas from the traffic weight (exactly one field is set)."""

    replicas: int | None = Field(default=None, ge=0)
    weight: float | None = Field(default=None, ge=0, le=100)
    match_traffic_weight: bool | None = None


class StringMatch(Model):
    """A header value match: exactly one of exact, prefix, regex."""

    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None


class HeaderRoutingMatch(Model):
    header_name: str
    header_value: StringMatch


class SetHeaderRoute(Model):
    """Routes requests that match the headers to the canary; no match removes the route."""

    name: str
    match: list[HeaderRoutingMatch] | None = None


class MirrorRouteMatch(Model):
    method: StringMatch | None = None
    path: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None


class SetMirrorRoute(Model):
    """Mirrors a share of matching requests to the canary; no match removes the route."""

    name: str
    percentage: float | None = Field(default=None, ge=0, le=100)
    match: list[MirrorRouteMatch] | None = None


class CanaryStep(Model):
    """One step of the canary strategy: exactly one field is set."""

    set_weight: float | None = Field(default=None, ge=0, le=100)
    pause: RolloutPause | None = None
    analysis: RolloutAnalysis | None = None
    set_canary_scale: SetCanaryScale | None = None
    set_header_route: SetHeaderRoute | None = None
    set_mirror_route: SetMirrorRoute | None = None

    def kind(self) -> str:
        """The name of the one field this step sets (``setWeight``, ``pause``, ...)."""
        for name, field in type(self).model_fields.items():
            if getattr(self, name) is not None:
                return field.alias or name
        return "empty"


class RouteReference(Model):
    """An HTTPRoute or GRPCRoute whose backendRef weights the Rollout owns."""

    name: str
    namespace: str | None = None
    use_header_routes: bool | None = None


class GatewayAPITrafficRouting(Model):
    http_routes: list[RouteReference] | None = None
    grpc_routes: list[RouteReference] | None = None
    verify_weights: bool = True


class ManagedRoute(Model):
    name: str


class TrafficRouting(Model):
    gateway_api: GatewayAPITrafficRouting | None = Field(default=None, alias="gatewayAPI")
    managed_routes: list[ManagedRoute] | None = None
    max_traffic_weight: int = Field(default=100, ge=1)


class PodMetadata(Model):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class CanaryStrategy(Model):
    canary_service: str | None = None
    stable_service: str | None = None
    steps: list[CanaryStep] | None = None
    traffic_routing: TrafficRouting | None = None
    max_surge: IntOrString = "25%"
    max_unavailable: IntOrString = "25%"
    analysis: RolloutAnalysisBackground | None = None
    canary_metadata: PodMetadata | None = None
    stable_metadata: PodMetadata | None = None
    scale_down_delay_seconds: int | None = Field(default=None, ge=0)
    """Seconds the old ReplicaSet keeps its pods after promotion (unset: 30)."""
    abort_scale_down_delay_seconds: int = Field(default=30, ge=0)
    dynamic_stable_scale: bool = False
    min_pods_per_replica_set: int | None = Field(default=None, ge=1)

    @property
    def scale_down_delay(self) -> int:
        """scaleDownDelaySeconds with Argo's default of 30 (0 with dynamicStableScale)."""
        if self.scale_down_delay_seconds is not None:
            return self.scale_down_delay_seconds
        return 0 if self.dynamic_stable_scale else 30


class Strategy(Model):
    canary: CanaryStrategy | None = None


class RolloutSpec(Model):
    replicas: int = Field(default=1, ge=0)
    selector: LabelSelector | None = None
    template: dict[str, Any] | None = None
    workload_ref: WorkloadRef | None = None
    min_ready_seconds: int = Field(default=0, ge=0)
    revision_history_limit: int = Field(default=10, ge=0)
    progress_deadline_seconds: int = Field(default=600, ge=1)
    progress_deadline_abort: bool = False
    paused: bool = False
    restart_at: datetime | None = None
    rollback_window: RollbackWindow | None = None
    analysis: AnalysisHistory | None = None
    strategy: Strategy = Field(default_factory=Strategy)


class PauseCondition(Model):
    reason: Literal["CanaryPauseStep", "InconclusiveAnalysisRun", "BlueGreenPause"]
    start_time: datetime


class WeightDestination(Model):
    weight: float
    pod_template_hash: str | None = None
    service_name: str | None = None


class TrafficWeights(Model):
    canary: WeightDestination
    stable: WeightDestination
    verified: bool | None = None


class RolloutAnalysisRunStatus(Model):
    name: str
    status: str
    message: str | None = None


class CanaryStatus(Model):
    weights: TrafficWeights | None = None
    current_step_analysis_run_status: RolloutAnalysisRunStatus | None = None
    current_background_analysis_run_status: RolloutAnalysisRunStatus | None = None
    attempt: int = 0


class RolloutStatus(Model):
    """What the controller last observed and decided; every field is written by it
    except ``abort`` and ``promoteFull`` (and clearing pauseConditions), which users
    patch to steer."""

    phase: Literal["Healthy", "Progressing", "Paused", "Degraded"] | None = None
    message: str | None = None
    conditions: list[Condition] | None = None
    current_step_index: int | None = None
    current_step_hash: str | None = None
    current_pod_hash: str | None = None
    stable_rs: str | None = Field(default=None, alias="stableRS")
    pause_conditions: list[PauseCondition] | None = None
    controller_pause: bool | None = None
    abort: bool | None = None
    aborted_at: datetime | None = None
    promote_full: bool | None = None
    canary: CanaryStatus | None = None
    observed_generation: int | None = None
    replicas: int | None = None
    updated_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    selector: str | None = None


class Rollout(KubeObject):
    api_version: Literal["rollouts.dev/v1alpha1"] = "rollouts.dev/v1alpha1"
    kind: Literal["Rollout"] = "Rollout"
    spec: RolloutSpec
    status: RolloutStatus | None = None

    @property
    def canary(self) -> CanaryStrategy:
        """The canary strategy, with defaults when the manifest leaves it out."""
        return self.spec.strategy.canary or CanaryStrategy()

    @property
    def steps(self) -> list[CanaryStep]:
        return self.canary.steps or []
