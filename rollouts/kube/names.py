"""Label, annotation and resource names the operator writes on Kubernetes objects."""

from __future__ import annotations

__all__ = [
    "ANALYSIS_RUN",
    "ANALYSIS_TEMPLATE",
    "CLUSTER_ANALYSIS_TEMPLATE",
    "DEPLOYMENT",
    "EVENT",
    "GATEWAY_CONTROLLER",
    "GRPC_ROUTE",
    "HASH_LABEL",
    "HTTP_ROUTE",
    "LEASE",
    "MANAGED_ROUTES_ANNOTATION",
    "POD",
    "REPLICA_SET",
    "REVISION_ANNOTATION",
    "ROLLOUT",
    "ROLLOUT_LABEL",
    "ROUTE_KINDS",
    "SCALE_DOWN_ANNOTATION",
    "SECRET",
    "SERVICE",
    "Kind",
]

HASH_LABEL = "rollouts-pod-template-hash"
"""On ReplicaSets, their pods and the canary/stable Service selectors."""
ROLLOUT_LABEL = "rollouts.dev/rollout"
"""On AnalysisRuns: the Rollout that created them."""
REVISION_ANNOTATION = "rollouts.dev/revision"
SCALE_DOWN_ANNOTATION = "rollouts.dev/scale-down-deadline"
MANAGED_ROUTES_ANNOTATION = "rollouts.dev/managed-routes"
GATEWAY_CONTROLLER = "rollouts.dev/gateway-controller"

Kind = tuple[str, str]
"""(apiVersion, kind)"""

ROLLOUT: Kind = ("rollouts.dev/v1alpha1", "Rollout")
ANALYSIS_RUN: Kind = ("rollouts.dev/v1alpha1", "AnalysisRun")
ANALYSIS_TEMPLATE: Kind = ("rollouts.dev/v1alpha1", "AnalysisTemplate")
CLUSTER_ANALYSIS_TEMPLATE: Kind = ("rollouts.dev/v1alpha1", "ClusterAnalysisTemplate")
REPLICA_SET: Kind = ("apps/v1", "ReplicaSet")
DEPLOYMENT: Kind = ("apps/v1", "Deployment")
SERVICE: Kind = ("v1", "Service")
POD: Kind = ("v1", "Pod")
SECRET: Kind = ("v1", "Secret")
EVENT: Kind = ("v1", "Event")
LEASE: Kind = ("coordination.k8s.io/v1", "Lease")
HTTP_ROUTE: Kind = ("gateway.networking.k8s.io/v1", "HTTPRoute")
GRPC_ROUTE: Kind = ("gateway.networking.k8s.io/v1", "GRPCRoute")
ROUTE_KINDS: dict[str, Kind] = {HTTP_ROUTE[1]: HTTP_ROUTE, GRPC_ROUTE[1]: GRPC_ROUTE}
"""The route kinds a Rollout's trafficRouting names, by kind."""
