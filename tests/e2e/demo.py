"""Manifests of the demo app for the end-to-end tests: Services, an HTTPRoute, a Rollout."""

from __future__ import annotations

from typing import Any

import yaml

from rollouts.kube import names
from tests.e2e.conftest import Cluster


def manifests(name: str = "demo", steps: list[dict[str, Any]] | None = None,
              replicas: int = 2, **canary: Any) -> list[dict[str, Any]]:
    container = {"name": "demo", "image": "rollouts-demo:v1",
                 "ports": [{"containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                    "periodSeconds": 1}}
    strategy = {
        "canaryService": f"{name}-canary", "stableService": f"{name}-stable",
        "scaleDownDelaySeconds": 2, "abortScaleDownDelaySeconds": 2,
        "trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": name}],
                                          "verifyWeights": False}},
        "steps": steps if steps is not None else [{"setWeight": 20}, {"pause": {}},
                                                  {"setWeight": 60}, {"pause": {}}],
        **canary,
    }
    service = {"apiVersion": "v1", "kind": "Service", "spec": {
        "selector": {"app": name}, "ports": [{"port": 8080, "targetPort": 8080}]}}
    return [
        {**service, "metadata": {"name": f"{name}-stable"}},
        {**service, "metadata": {"name": f"{name}-canary"}},
        yaml.safe_load(f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}}}
spec:
  parentRefs: [{{name: demo-gateway}}]
  rules:
  - backendRefs:
    - {{name: {name}-stable, port: 8080}}
    - {{name: {name}-canary, port: 8080, weight: 0}}
"""),
        {"apiVersion": "rollouts.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [container]}},
                  "strategy": {"canary": strategy}}},
    ]


def status(cluster: Cluster, name: str = "demo") -> dict[str, Any]:
    return dict(cluster.kube.get(names.ROLLOUT, name, "default").get("status") or {})


def canary_weight(cluster: Cluster, name: str = "demo") -> int:
    route = cluster.kube.get(names.HTTP_ROUTE, name, "default")
    refs = route["spec"]["rules"][0]["backendRefs"]
    return int(next(r.get("weight", 1) for r in refs if r["name"] == f"{name}-canary"))


def set_image(cluster: Cluster, image: str, name: str = "demo") -> None:
    """What `kubectl rollouts set image` patches."""
    rollout = cluster.kube.get(names.ROLLOUT, name, "default")
    containers = rollout["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = image
    cluster.kube.patch(names.ROLLOUT, name, {"spec": {"template": {"spec": {
        "containers": containers}}}}, "default")


def patch_status(cluster: Cluster, patch: dict[str, Any], name: str = "demo") -> None:
    cluster.kube.patch(names.ROLLOUT, name, {"status": patch}, "default", status=True)


def patch_spec(cluster: Cluster, patch: dict[str, Any], name: str = "demo") -> None:
    cluster.kube.patch(names.ROLLOUT, name, {"spec": patch}, "default")
