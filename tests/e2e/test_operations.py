"""Operations as patches on the Rollout (as ANCHORS.md lists them), against the operator."""

from __future__ import annotations

from rollouts.kube import names
from tests.e2e.conftest import Cluster, RunningOperator, eventually
from tests.e2e.demo import canary_weight, manifests, patch_spec, patch_status, set_image, status


def healthy_then_update(cluster: Cluster, name: str = "demo") -> str:
    eventually(lambda: status(cluster, name).get("phase") == "Healthy", 60,
               what=f"{name} Healthy")
    stable = status(cluster, name)["stableRS"]
    set_image(cluster, "rollouts-demo:v2", name)
    eventually(lambda: status(cluster, name).get("phase") == "Paused"
               and canary_weight(cluster, name) == 200_000, 60, what="paused at 20 %")
    return str(stable)


def test_abort_then_retry(cluster: Cluster, operator: RunningOperator) -> None:
    cluster.apply(manifests())
    stable = healthy_then_update(cluster)
    patch_status(cluster, {"abort": True})
    eventually(lambda: canary_weight(cluster) == 0, 10, what="traffic back to stable")
    current = status(cluster)
    assert current["phase"] == "Degraded"
    assert current["message"] == "RolloutAborted: Rollout aborted by the user"
    assert current["stableRS"] == stable
    canary_rs = f"demo-{current['currentPodHash']}"
    eventually(lambda: cluster.kube.get(names.REPLICA_SET, canary_rs, "default")["spec"][
        "replicas"] == 0, 20, what="canary scaled down after abortScaleDownDelaySeconds")
    patch_status(cluster, {"abort": False})
    eventually(lambda: status(cluster).get("phase") == "Paused"
               and canary_weight(cluster) == 200_000, 60, what="retried from step 1")
    assert status(cluster)["currentStepIndex"] == 1


def test_promote_full_and_pause_resume(cluster: Cluster, operator: RunningOperator) -> None:
    cluster.apply(manifests())
    stable = healthy_then_update(cluster)
    patch_spec(cluster, {"paused": True})
    patch_status(cluster, {"pauseConditions": None})
    eventually(lambda: "paused by the user" in (status(cluster).get("message") or ""), 20)
    assert canary_weight(cluster) == 200_000, "spec.paused holds the rollout where it is"
    patch_spec(cluster, {"paused": False})
    eventually(lambda: canary_weight(cluster) == 600_000, 30, what="resumed to 60 %")
    patch_status(cluster, {"promoteFull": True})
    eventually(lambda: status(cluster).get("phase") == "Healthy"
               and status(cluster)["stableRS"] != stable, 60, what="promoted fully")
    # the status is written before its actions run: the route follows within a loop
    eventually(lambda: canary_weight(cluster) == 0, 20, what="all traffic on the new stable")


def test_an_invalid_rollout_does_not_stop_another(cluster: Cluster,
                                                  operator: RunningOperator) -> None:
    bad = manifests("broken", steps=[{"setWeight": 20}, {"setMirrorRoute": {
        "name": "not-listed", "match": [{"path": {"prefix": "/"}}]}}])
    cluster.apply(bad)
    cluster.apply(manifests("good", steps=[{"setWeight": 50}]))
    eventually(lambda: status(cluster, "good").get("phase") == "Healthy", 60)
    set_image(cluster, "rollouts-demo:v2", "good")
    eventually(lambda: status(cluster, "broken").get("phase") == "Degraded", 30)
    broken = status(cluster, "broken")
    invalid = [c for c in broken["conditions"] if c["type"] == "InvalidSpec"]
    assert invalid and invalid[0]["status"] == "True"
    assert "steps[1].setMirrorRoute.name" in invalid[0]["message"]
    first = status(cluster, "good")["stableRS"]
    eventually(lambda: status(cluster, "good").get("phase") == "Healthy"
               and status(cluster, "good")["stableRS"] != first, 60,
               what="the valid Rollout completes its update")
