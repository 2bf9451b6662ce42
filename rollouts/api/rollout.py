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
    """Name of the Deployment (same namespace) whose pod template the Rollout uses."""
    scale_down: Literal["never", "onsuccess", "progressively"] = "never"
    """What happens to the Deployment: never scaled down, scaled to 0 once the
    Rollout is healthy (onsuccess), or progressively as the Rollout scales up."""


class RollbackWindow(Model):
    revisions: int = Field(default=0, ge=0)
    """Rolling back to one of this many most recent revisions skips all steps."""


class AnalysisHistory(Model):
    successful_run_history_limit: int = Field(default=5, ge=0)
    """How many successful AnalysisRuns to keep (default 5)."""
    unsuccessful_run_history_limit: int = Field(default=5, ge=0)
    """How many failed, errored or inconclusive AnalysisRuns to keep (default 5)."""


class FieldRef(Model):
    field_path: str


class ArgumentValueFrom(Model):
    pod_template_hash_value: Literal["Stable", "Latest"] | None = None
    """Stable or Latest: the pod-template hash of the stable or the canary ReplicaSet."""
    field_ref: FieldRef | None = None
    """A field of the Rollout, e.g. metadata.name or metadata.labels['app']."""


class AnalysisRunArgument(Model):
    """An argument passed from a Rollout step to an analysis template."""

    name: str
    """Name of the template argument to set."""
    value: str | None = None
    """A literal value."""
    value_from: ArgumentValueFrom | None = None


class RolloutAnalysisTemplateRef(Model):
    template_name: str
    """Name of the AnalysisTemplate (or ClusterAnalysisTemplate with clusterScope)."""
    cluster_scope: bool = False
    """Refer to a ClusterAnalysisTemplate instead of a namespaced AnalysisTemplate."""


class DryRun(Model):
    metric_name: str


class MeasurementRetention(Model):
    metric_name: str
    limit: int = Field(ge=0)


class RolloutAnalysis(Model):
    """An analysis step, or the base of background analysis."""

    templates: list[RolloutAnalysisTemplateRef] = Field(min_length=1)
    """Templates whose metrics are merged into one AnalysisRun."""
    args: list[AnalysisRunArgument] | None = None
    """Arguments for the templates' {{args.NAME}} placeholders."""
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None


class RolloutAnalysisBackground(RolloutAnalysis):
    """Analysis that runs across steps, from ``startingStep`` on, and aborts on failure."""

    starting_step: int | None = Field(default=None, ge=0)
    """Index of the step at which background analysis starts (default 0)."""


class RolloutPause(Model):
    """A pause step: with a duration it resumes by itself, without one it waits for promote."""

    duration: Duration | None = None
    """How long to pause: 30s, 5m, 1h, 1h30m or integer seconds. Unset: until promoted."""


class SetCanaryScale(Model):
    """Decouples canary replicas from the traffic weight (exactly one field is set)."""

    replicas: int | None = Field(default=None, ge=0)
    """A fixed number of canary pods."""
    weight: float | None = Field(default=None, ge=0, le=100)
    """Canary pods as a percentage of spec.replicas."""
    match_traffic_weight: bool | None = None
    """Go back to canary pods following the traffic weight."""


class StringMatch(Model):
    """A header value match: exactly one of exact, prefix, regex."""

    exact: str | None = None
    """Match the value exactly."""
    prefix: str | None = None
    """Match values starting with this."""
    regex: str | None = None
    """Match values against this regular expression."""


class HeaderRoutingMatch(Model):
    header_name: str
    """Request header to match."""
    header_value: StringMatch


class SetHeaderRoute(Model):
    """Routes requests that match the headers to the canary; no match removes the route."""

    name: str
    """Name of the managed route (listed in trafficRouting.managedRoutes)."""
    match: list[HeaderRoutingMatch] | None = None
    """Header matches sending a request to the canary; leave out to remove the route."""


class MirrorRouteMatch(Model):
    method: StringMatch | None = None
    path: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None


class SetMirrorRoute(Model):
    """Mirrors a share of matching requests to the canary; no match removes the route."""

    name: str
    """Name of the managed route (listed in trafficRouting.managedRoutes)."""
    percentage: float | None = Field(default=None, ge=0, le=100)
    """Share of matching requests mirrored to the canary (default 100)."""
    match: list[MirrorRouteMatch] | None = None
    """Which requests to mirror; leave out to remove the route."""


class CanaryStep(Model):
    """One step of the canary strategy: exactly one field is set."""

    set_weight: float | None = Field(default=None, ge=0, le=100)
    """Percentage of traffic (out of maxTrafficWeight) to send to the canary; fractions allowed."""
    pause: RolloutPause | None = None
    """Pause the rollout, for a duration or until promoted."""
    analysis: RolloutAnalysis | None = None
    """Run an analysis and wait for it: Successful goes on, Failed aborts, Inconclusive pauses."""
    set_canary_scale: SetCanaryScale | None = None
    """Set the canary's replica count independently of its traffic weight."""
    set_header_route: SetHeaderRoute | None = None
    """Send requests matching headers to the canary."""
    set_mirror_route: SetMirrorRoute | None = None
    """Mirror a share of matching requests to the canary."""

    def kind(self) -> str:
        """The name of the one field this step sets (``setWeight``, ``pause``, ...)."""
        for name, field in type(self).model_fields.items():
            if getattr(self, name) is not None:
                return field.alias or name
        return "empty"


class RouteReference(Model):
    """An HTTPRoute or GRPCRoute whose backendRef weights the Rollout owns."""

    name: str
    """Name of the route."""
    namespace: str | None = None
    """Namespace of the route (default: the Rollout's)."""
    use_header_routes: bool | None = None


class GatewayAPITrafficRouting(Model):
    http_routes: list[RouteReference] | None = None
    """HTTPRoutes whose canary and stable backendRef weights the Rollout writes."""
    grpc_routes: list[RouteReference] | None = None
    """GRPCRoutes whose canary and stable backendRef weights the Rollout writes."""
    verify_weights: bool = True
    """Wait until the gateway reports the route Accepted at its current generation
    before moving on (false: for gateways that write no status)."""


class ManagedRoute(Model):
    name: str


class TrafficRouting(Model):
    gateway_api: GatewayAPITrafficRouting | None = Field(default=None, alias="gatewayAPI")
    """Gateway API routes to split traffic with."""
    managed_routes: list[ManagedRoute] | None = None
    """Header and mirror routes the controller may add; their order is their precedence."""
    max_traffic_weight: int = Field(default=100, ge=1)
    """The total that setWeight values are out of (default 100)."""


class PodMetadata(Model):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class CanaryStrategy(Model):
    canary_service: str | None = None
    """Service selecting the canary's pods (the controller points its selector)."""
    stable_service: str | None = None
    """Service selecting the stable pods (the controller points its selector)."""
    steps: list[CanaryStep] | None = None
    """The steps of the canary, run in order."""
    traffic_routing: TrafficRouting | None = None
    """How traffic is split; without it the split follows replica counts."""
    max_surge: IntOrString = "25%"
    """Extra pods allowed during an update: a count or a percentage (default 25%)."""
    max_unavailable: IntOrString = "25%"
    """Pods that may be unavailable during an update: a count or a percentage (default 25%)."""
    analysis: RolloutAnalysisBackground | None = None
    """Background analysis, running across steps; a failure aborts."""
    canary_metadata: PodMetadata | None = None
    stable_metadata: PodMetadata | None = None
    scale_down_delay_seconds: int | None = Field(default=None, ge=0)
    """Seconds the old ReplicaSet keeps its pods after promotion (unset: 30)."""
    abort_scale_down_delay_seconds: int = Field(default=30, ge=0)
    """Seconds the canary keeps its pods after an abort (default 30; 0 = never scaled down)."""
    dynamic_stable_scale: bool = False
    """Scale the stable ReplicaSet down as the canary takes traffic."""
    min_pods_per_replica_set: int | None = Field(default=None, ge=1)
    """Least number of canary pods while it takes traffic."""

    @property
    def scale_down_delay(self) -> int:
        """scaleDownDelaySeconds with Argo's default of 30 (0 with dynamicStableScale)."""
        if self.scale_down_delay_seconds is not None:
            return self.scale_down_delay_seconds
        return 0 if self.dynamic_stable_scale else 30


class Strategy(Model):
    canary: CanaryStrategy | None = None
    """Canary strategy: steps of traffic weights, pauses and analysis."""


class RolloutSpec(Model):
    replicas: int = Field(default=1, ge=0)
    """Number of desired pods (default 1)."""
    selector: LabelSelector | None = None
    """Label selector for the pods; must match the template's labels."""
    template: dict[str, Any] | None = None
    """The pod template; a change of it starts a canary."""
    workload_ref: WorkloadRef | None = None
    """Use the pod template of an existing Deployment instead of template."""
    min_ready_seconds: int = Field(default=0, ge=0)
    """Seconds a new pod must be ready before it counts as available."""
    revision_history_limit: int = Field(default=10, ge=0)
    """Old ReplicaSets to keep for undo (default 10)."""
    progress_deadline_seconds: int = Field(default=600, ge=1)
    """Seconds without progress before the Rollout is Degraded (default 600)."""
    progress_deadline_abort: bool = False
    """Abort the update when the progress deadline is exceeded."""
    paused: bool = False
    """Pause the rollout wherever it is."""
    restart_at: datetime | None = None
    """Restart the pods created before this time."""
    rollback_window: RollbackWindow | None = None
    analysis: AnalysisHistory | None = None
    strategy: Strategy = Field(default_factory=Strategy)
    """The update strategy (canary)."""


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
    """Healthy, Progressing, Paused or Degraded; derived from the conditions."""
    message: str | None = None
    """What the Rollout waits for, or why it is Degraded."""
    conditions: list[Condition] | None = None
    current_step_index: int | None = None
    """Index of the current canary step."""
    current_step_hash: str | None = None
    current_pod_hash: str | None = None
    """Pod-template hash of the current (canary) revision."""
    stable_rs: str | None = Field(default=None, alias="stableRS")
    """Pod-template hash of the stable ReplicaSet."""
    pause_conditions: list[PauseCondition] | None = None
    """Why the rollout is paused; clear them to resume."""
    restarted_at: datetime | None = None
    """The spec.restartAt whose restart of the pods is complete."""
    controller_pause: bool | None = None
    abort: bool | None = None
    """Set to true to abort the update (traffic back to stable); false to retry."""
    aborted_at: datetime | None = None
    promote_full: bool | None = None
    """Set to true to skip the remaining steps and analysis."""
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
