"""The operator drives a Rollout of the demo app through its steps on local mode."""

from __future__ import annotations

from typing import Any

from rollouts.kube import names
from rollouts.kube.rbac import PERMISSIONS, allowed
from tests.e2e.conftest import Cluster, RunningOperator, eventually

MANIFESTS = """
apiVersion: v1
kind: Service
metadata: {name: demo-stable}
spec: {selector: {app: demo}, ports: [{port: 8080, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: demo-canary}
spec: {selector: {app: demo}, ports: [{port: 8080, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: demo, annotations: {owner: team-a}}
spec:
  parentRefs: [{name: demo-gateway}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /admin}}]
    backendRefs: [{name: admin, port: 80}]
  - backendRefs:
    - {name: demo-stable, port: 8080, weight: 100}
    - {name: demo-canary, port: 8080, weight: 0}
---
apiVersion: rollouts.dev/v1alpha1
kind: Rollout
metadata: {name: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers:
      - name: demo
        image: rollouts-demo:v1
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
  strategy:
    canary:
      canaryService: demo-canary
      stableService: demo-stable
      scaleDownDelaySeconds: 2
      trafficRouting:
        gatewayAPI: {httpRoutes: [{name: demo}], verifyWeights: false}
      steps:
      - setWeight: 10
      - pause: {duration: 1s}
      - setWeight: 50
      - pause: {}
      - setWeight: 100
"""


def rollout(cluster: Cluster) -> dict[str, Any]:
    return cluster.kube.get(names.ROLLOUT, "demo", "default")


def weight(cluster: Cluster) -> int:
    route = cluster.kube.get(names.HTTP_ROUTE, "demo", "default")
    refs = route["spec"]["rules"][1]["backendRefs"]
    return next(r.get("weight", 1) for r in refs if r["name"] == "demo-canary")


def phase(cluster: Cluster) -> str | None:
    return (rollout(cluster).get("status") or {}).get("phase")


def test_rollout_progresses_through_every_step_to_healthy(
        cluster: Cluster, operator: RunningOperator) -> None:
    cluster.apply_yaml(MANIFESTS)
    eventually(lambda: phase(cluster) == "Healthy", 60, what="first revision Healthy")
    first = rollout(cluster)["status"]["stableRS"]
    assert weight(cluster) == 0
    cluster.kube.patch(names.ROLLOUT, "demo", {"spec": {"template": {"spec": {"containers": [
        {"name": "demo", "image": "rollouts-demo:v2", "ports": [{"containerPort": 8080}],
         "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                            "periodSeconds": 1}}]}}}}, "default")
    seen: list[int] = []

    def paused_at_step_4() -> bool:
        w = weight(cluster)
        if not seen or seen[-1] != w:
            seen.append(w)
        status = rollout(cluster).get("status") or {}
        return status.get("phase") == "Paused" and status.get("currentStepIndex") == 3

    eventually(paused_at_step_4, 90, every=0.05, what="paused at step 4")
    assert seen == [0, 100_000, 500_000], "route weights followed the steps (of 1,000,000)"
    status = rollout(cluster)["status"]
    assert status["message"] == "paused at step 4 of 5: waiting for promote"
    route = cluster.kube.get(names.HTTP_ROUTE, "demo", "default")
    assert route["metadata"]["annotations"]["owner"] == "team-a"
    admin = route["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["port"], r["weight"]) for r in admin] == [("admin", 80, 1)], \
        "the user's other rules are untouched"
    # promote: clear the pause, as `kubectl rollouts promote` does
    cluster.kube.patch(names.ROLLOUT, "demo", {"status": {"pauseConditions": None}}, "default",
                       status=True)
    eventually(lambda: phase(cluster) == "Healthy", 90, what="Healthy after promote")
    final = rollout(cluster)["status"]
    assert final["stableRS"] != first
    assert weight(cluster) == 0
    old = f"demo-{first}"
    eventually(lambda: cluster.kube.get(names.REPLICA_SET, old, "default")["spec"][
        "replicas"] == 0, 30, what="old ReplicaSet scaled down after the delay")
    stable_svc = cluster.kube.get(names.SERVICE, "demo-stable", "default")
    assert stable_svc["spec"]["selector"][names.HASH_LABEL] == final["stableRS"]


def test_every_api_call_of_a_rollout_is_allowed_by_the_installed_rbac(
        cluster: Cluster, operator: RunningOperator) -> None:
    cluster.apply_yaml(MANIFESTS)
    eventually(lambda: phase(cluster) == "Healthy", 60, what="first revision Healthy")
    first = rollout(cluster)["status"]["stableRS"]
    cluster.kube.patch(names.ROLLOUT, "demo", {"spec": {"strategy": {"canary": {"steps": [
        {"setWeight": 50}]}}}}, "default")
    cluster.kube.patch(names.ROLLOUT, "demo", {"spec": {"template": {"metadata": {
        "annotations": {"rev": "2"}}}}}, "default")
    eventually(lambda: phase(cluster) == "Healthy" and weight(cluster) == 0
               and rollout(cluster)["status"]["stableRS"] != first, 60,
               what="second revision promoted")
    calls = {(verb, api_version, kind) for verb, api_version, kind, _ in operator.kube.calls}
    assert {("create", "apps/v1", "ReplicaSet"), ("patch", "v1", "Service"),
            ("update", "gateway.networking.k8s.io/v1", "HTTPRoute"),
            ("patch", "rollouts.dev/v1alpha1", "Rollout/status"),
            ("create", "v1", "Event")} <= calls, "the run exercised the operator's writes"
    denied = sorted(call for call in calls if not allowed(*call))
    assert denied == [], f"calls the installed RBAC does not allow: {denied}"
    for group, plural in (("rollouts.dev", "rollouts"), ("apps", "replicasets"),
                          ("rollouts.dev", "analysisruns"),
                          ("gateway.networking.k8s.io", "httproutes"),
                          ("gateway.networking.k8s.io", "grpcroutes")):
        verbs = PERMISSIONS[(group, plural)]
        assert {"list", "watch"} <= set(verbs), f"kopf watches {plural}"
