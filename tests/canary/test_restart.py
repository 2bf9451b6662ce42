"""spec.restartAt restarts the pods created before it, within maxUnavailable, then
records status.restartedAt."""

from __future__ import annotations

from datetime import timedelta

from rollouts.canary.decide import decide
from rollouts.canary.types import DeletePod, PodView
from tests.canary.support import T0, deployed, make_rollout, settle


def pods(pod_hash: str, count: int, created: int = 0) -> list[PodView]:
    return [PodView(f"web-{pod_hash}-{i}", pod_hash, T0 + timedelta(seconds=created))
            for i in range(count)]


def test_restart_deletes_old_pods_a_few_at_a_time_and_records_it() -> None:
    cluster = deployed(make_rollout([{"setWeight": 50}], replicas=4, maxUnavailable=1), T0)
    stable = cluster.rollout.status.stable_rs or ""  # type: ignore[union-attr]
    cluster.pods = pods(stable, 4)
    restart_at = T0 + timedelta(minutes=5)
    cluster.patch_spec(restart_at=restart_at)
    early = decide(cluster.rollout, cluster.observe(), T0 + timedelta(minutes=1))
    assert not [a for a in early.actions if isinstance(a, DeletePod)]
    assert early.requeue_after == 240, "look again when restartAt comes"
    now = restart_at + timedelta(seconds=1)
    deleted: list[str] = []
    for round_ in range(4):
        decision = decide(cluster.rollout, cluster.observe(), now)
        gone = [a.name for a in decision.actions if isinstance(a, DeletePod)]
        assert len(gone) == 1, "maxUnavailable 1: one pod at a time"
        assert "restarting pods created before" in (decision.status.message or "")
        cluster.apply(decision)
        deleted += gone
        # the ReplicaSet brings up a fresh (not yet ready) pod, then it becomes ready
        fresh = PodView(f"new-{round_}", stable, now, ready=False)
        cluster.pods.append(fresh)
        assert not [a for a in decide(cluster.rollout, cluster.observe(), now).actions
                    if isinstance(a, DeletePod)], "waits while a pod is not ready"
        cluster.pods[-1] = PodView(fresh.name, stable, now, ready=True)
    assert sorted(deleted) == sorted(p.name for p in pods(stable, 4))
    decision = settle(cluster, now)
    assert decision.status.restarted_at == restart_at
    assert decision.status.phase == "Healthy"
    again = decide(cluster.rollout, cluster.observe(), now + timedelta(hours=1))
    assert not [a for a in again.actions if isinstance(a, DeletePod)], "done once"
