"""A Rollout taking over an existing Deployment (workloadRef, scaleDown: onsuccess), and
the Events a rollout leaves on its Rollout."""

from __future__ import annotations

from rollouts.kube import names
from tests.e2e.conftest import Cluster, RunningOperator, eventually
from tests.e2e.demo import manifests, set_image, status


def test_workload_ref_takes_over_and_scales_the_deployment_down(
        cluster: Cluster, operator: RunningOperator) -> None:
    services, route, rollout = manifests()[0:2], manifests()[2], manifests()[3]
    template = rollout["spec"].pop("template")
    rollout["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "demo", "scaleDown": "onsuccess"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "demo"}},
                           "template": template}}
    cluster.apply([*services, route, deployment])
    eventually(lambda: (cluster.kube.get(names.DEPLOYMENT, "demo", "default").get("status")
                        or {}).get("availableReplicas") == 2, 60, what="Deployment available")
    cluster.apply([rollout])
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60, what="Rollout Healthy")
    eventually(lambda: cluster.kube.get(names.DEPLOYMENT, "demo", "default")["spec"][
        "replicas"] == 0, 30, what="Deployment scaled down once the Rollout is healthy")
    replica_sets = [rs for rs in cluster.kube.list(names.REPLICA_SET, "default")
                    if any(o["kind"] == "Rollout" for o in rs["metadata"].get(
                        "ownerReferences") or [])]
    assert len(replica_sets) == 1
    assert replica_sets[0]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "rollouts-demo:v1", "the Rollout runs the Deployment's pod template"


def test_a_rollout_leaves_events_for_its_steps_weights_and_promotion(
        cluster: Cluster, operator: RunningOperator) -> None:
    cluster.apply(manifests(steps=[{"setWeight": 30}]))
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
    first = status(cluster)["stableRS"]
    set_image(cluster, "rollouts-demo:v2")
    eventually(lambda: status(cluster).get("phase") == "Healthy"
               and status(cluster)["stableRS"] != first, 60)

    def reasons() -> list[str]:
        events = cluster.kube.list(names.EVENT, "default")
        return [e["reason"] for e in events
                if (e.get("involvedObject") or {}).get("name") == "demo"
                and e["involvedObject"].get("kind") == "Rollout"]

    eventually(lambda: "RolloutPromoted" in reasons(), 10)
    seen = reasons()
    for reason in ("RolloutUpdated", "TrafficWeightUpdated", "RolloutStepCompleted",
                   "RolloutPromoted"):
        assert reason in seen, (reason, seen)
