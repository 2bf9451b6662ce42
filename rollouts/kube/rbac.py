"""The Kubernetes permissions the operator needs, and the install manifests built on them.

One table (``PERMISSIONS``) says which verbs the operator uses on which resources; the
ClusterRole is generated from it, with no wildcards, and a test checks every API call
an end-to-end run makes against it.
"""

from __future__ import annotations

from typing import Any

from rollouts import __version__
from rollouts.api.crds import all_crds

__all__ = ["KIND_RESOURCES", "NAMESPACE", "PERMISSIONS", "allowed", "install_manifests"]

NAMESPACE = "rollouts-system"

PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    # (API group, resource): verbs
    ("rollouts.dev", "rollouts"): ("get", "list", "watch"),
    ("rollouts.dev", "rollouts/status"): ("patch",),
    ("rollouts.dev", "analysisruns"): ("get", "list", "watch", "create", "patch", "delete"),
    ("rollouts.dev", "analysisruns/status"): ("patch",),
    ("rollouts.dev", "analysistemplates"): ("get",),
    ("rollouts.dev", "clusteranalysistemplates"): ("get",),
    ("apps", "replicasets"): ("get", "list", "watch", "create", "patch", "delete"),
    ("apps", "deployments"): ("get", "patch"),
    ("", "services"): ("get", "patch"),
    ("", "pods"): ("list", "delete"),
    ("", "secrets"): ("get",),
    ("", "events"): ("create",),
    ("gateway.networking.k8s.io", "httproutes"): ("get", "list", "watch", "update"),
    ("gateway.networking.k8s.io", "grpcroutes"): ("get", "list", "watch", "update"),
}
"""Cluster-wide permissions (the operator watches Rollouts in every namespace)."""

LEASE_PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("coordination.k8s.io", "leases"): ("get", "create", "update"),
}
"""Permissions in the operator's own namespace, for leader election."""

KIND_RESOURCES: dict[str, str] = {
    "Rollout": "rollouts", "Rollout/status": "rollouts/status",
    "AnalysisRun": "analysisruns", "AnalysisRun/status": "analysisruns/status",
    "AnalysisTemplate": "analysistemplates",
    "ClusterAnalysisTemplate": "clusteranalysistemplates",
    "ReplicaSet": "replicasets", "Deployment": "deployments", "Service": "services",
    "Secret": "secrets", "Pod": "pods", "Event": "events", "Lease": "leases",
    "HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes",
}


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def allowed(verb: str, api_version: str, kind: str) -> bool:
    """Whether the installed RBAC lets the operator do ``verb`` on ``kind``."""
    key = (_group(api_version), KIND_RESOURCES.get(kind, kind.lower() + "s"))
    return verb in PERMISSIONS.get(key, ()) or verb in LEASE_PERMISSIONS.get(key, ())


def _rules(table: dict[tuple[str, str], tuple[str, ...]]) -> list[dict[str, Any]]:
    return [{"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}
            for (group, resource), verbs in table.items()]


def install_manifests(image: str | None = None) -> list[dict[str, Any]]:
    """Everything a cluster needs: namespace, CRDs, identity, RBAC, the operator."""
    image = image or f"rollouts-operator:{__version__}"
    labels = {"app.kubernetes.io/name": "rollouts-operator"}
    account = {"kind": "ServiceAccount", "name": "rollouts-operator", "namespace": NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        *all_crds(),
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "rollouts-operator", "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "rollouts-operator"}, "rules": _rules(PERMISSIONS)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "rollouts-operator"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "rollouts-operator"}, "subjects": [account]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "rollouts-operator-leader-election", "namespace": NAMESPACE},
         "rules": _rules(LEASE_PERMISSIONS)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "rollouts-operator-leader-election", "namespace": NAMESPACE},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "rollouts-operator-leader-election"}, "subjects": [account]},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "rollouts-operator", "namespace": NAMESPACE, "labels": labels},
         "spec": {
             "replicas": 2, "selector": {"matchLabels": labels},
             "template": {"metadata": {"labels": labels}, "spec": {
                 "serviceAccountName": "rollouts-operator",
                 "containers": [{
                     "name": "operator", "image": image,
                     "args": ["operator", "--lease-namespace", NAMESPACE],
                     "env": [{"name": "POD_NAMESPACE", "valueFrom": {
                         "fieldRef": {"fieldPath": "metadata.namespace"}}}],
                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                   "limits": {"memory": "512Mi"}},
                     "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                         "readOnlyRootFilesystem": True},
                 }]}}}},
    ]
