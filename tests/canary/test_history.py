"""Housekeeping: ReplicaSets beyond revisionHistoryLimit, AnalysisRuns beyond the history
limits, and a workloadRef'd Deployment scaled down by its scaleDown policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollouts.api.rollout import AnalysisHistory, WorkloadRef
from rollouts.canary.decide import decide
from rollouts.canary.simulation import FakeCluster
from rollouts.canary.types import DeleteAnalysisRun, DeleteReplicaSet
from tests.canary.support import T0, deployed, make_rollout, settle


def test_old_replica_sets_beyond_revision_history_limit_are_deleted() -> None:
    rollout = make_rollout([{"setWeight": 50}], scaleDownDelaySeconds=0)
    rollout.spec.revision_history_limit = 1
    cluster = deployed(rollout, T0)
    hashes = [cluster.rollout.status.stable_rs]  # type: ignore[union-attr]
    for revision in range(2, 5):
        hashes.append(cluster.change_template(f"v{revision}"))
        settle(cluster, T0 + timedelta(seconds=revision))
        settle(cluster, T0 + timedelta(seconds=revision, milliseconds=1))
    deleted = [a.pod_template_hash for a in cluster.applied if isinstance(a, DeleteReplicaSet)]
    assert deleted == [hashes[0], hashes[1]], "oldest first, keeping one old revision"
    assert sorted(cluster.replica_sets) == sorted(hashes[2:])


def test_finished_runs_beyond_the_limits_are_deleted_newest_kept() -> None:
    steps = [{"analysis": {"templates": [{"templateName": "t"}]}}, {"pause": {}}]
    rollout = make_rollout(steps)
    rollout.spec.analysis = AnalysisHistory(successful_run_history_limit=1,
                                            unsuccessful_run_history_limit=1)
    cluster = deployed(rollout, T0)
    hashes = []
    for revision in range(2, 5):
        hashes.append(cluster.change_template(f"v{revision}"))
        settle(cluster, T0)
    deleted = [a.name for a in cluster.applied if isinstance(a, DeleteAnalysisRun)]
    assert len(deleted) == 2
    assert len(cluster.runs) == 1
    (kept,) = cluster.runs
    assert kept not in deleted
    assert deleted == [f"web-{hashes[0]}-step0", f"web-{hashes[1]}-step0"], "oldest first"
    assert kept == f"web-{hashes[2]}-step0", "the newest run is kept"


@pytest.mark.parametrize(("policy", "after"), [
    ("never", 4), ("onsuccess", 0), ("progressively", 0)])
def test_workload_ref_deployment_scale_down_policy(policy: str, after: int) -> None:
    rollout = make_rollout([{"setWeight": 50}, {"pause": {}}])
    template, rollout.spec.template = rollout.spec.template, None
    rollout.spec.workload_ref = WorkloadRef(name="web", scale_down=policy)  # type: ignore[arg-type]
    cluster = FakeCluster(rollout, workload_replicas=4, workload_template=template,
                          auto_ready=False)
    settle(cluster, T0)
    (pod_hash,) = cluster.replica_sets
    assert cluster.workload_replicas == 4, "the Deployment serves until Rollout pods are ready"
    cluster.set_ready(pod_hash, 2)
    settle(cluster, T0)
    assert cluster.workload_replicas == (2 if policy == "progressively" else 4)
    cluster.set_ready(pod_hash, 4)
    decision = settle(cluster, T0)
    assert decision.status.phase == "Healthy"
    assert cluster.workload_replicas == after


def test_workload_ref_to_a_missing_deployment_is_named() -> None:
    rollout = make_rollout([{"setWeight": 50}])
    rollout.spec.template = None
    rollout.spec.workload_ref = WorkloadRef(name="web")
    cluster = FakeCluster(rollout)
    result = decide(cluster.rollout, cluster.observe(), T0)
    assert result.status.phase == "Degraded"
    assert result.status.message == "InvalidSpec: spec.workloadRef: Deployment web not found"
