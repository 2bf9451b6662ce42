"""Operator modes: two replicas with leader election, one namespace only, undo, and
operations patched while the operator is down."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.kube import names
from rollouts.kube.api import Kube, load_api_client
from rollouts.kube.leader import LeaderElector
from rollouts.kube.run import run_operator
from tests.e2e.conftest import Cluster, RunningOperator, eventually
from tests.e2e.demo import canary_weight, manifests, patch_status, set_image, status


class Replica:
    """An operator replica in a thread, with its own client and leader elector."""

    def __init__(self, cluster: Cluster, identity: str, **options: Any) -> None:
        self.kube = Kube(load_api_client(cluster.kubeconfig))
        self.elector = LeaderElector(self.kube, identity=identity, lease_seconds=2)
        self.stop = threading.Event()
        self.options = options
        self.thread = threading.Thread(target=lambda: asyncio.run(run_operator(
            self.kube, elector=self.elector, stop=self.stop, **self.options)), daemon=True)
        self.thread.start()

    def writes(self) -> int:
        return sum(1 for verb, *_ in self.kube.calls if verb in ("create", "patch", "update")
                   and _[1] != "Lease")

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(20)


def holder(cluster: Cluster) -> str | None:
    lease = cluster.kube.find(names.LEASE, "rollouts-operator", "default")
    return ((lease or {}).get("spec") or {}).get("holderIdentity")


def test_two_replicas_one_leads_and_the_other_takes_over(cluster: Cluster) -> None:
    first = Replica(cluster, "first")
    eventually(lambda: holder(cluster) == "first", 10, what="first replica leads")
    second = Replica(cluster, "second")
    try:
        cluster.apply(manifests(steps=[{"setWeight": 50}]))
        eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
        assert second.writes() == 0, "the standby replica does not reconcile"
        first.halt()
        eventually(lambda: holder(cluster) == "second", 15, what="second replica takes over")
        stable = status(cluster)["stableRS"]
        set_image(cluster, "rollouts-demo:v2")
        eventually(lambda: status(cluster).get("phase") == "Healthy"
                   and status(cluster)["stableRS"] != stable, 60, what="second reconciles")
        assert second.writes() > 0
    finally:
        first.halt()
        second.halt()


def test_namespace_flag_watches_only_that_namespace(cluster: Cluster) -> None:
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}])
    cluster.apply(manifests("outside"))
    cluster.apply(manifests("inside"), namespace="team-a")
    replica = Replica(cluster, "scoped", namespaces=["team-a"])
    try:
        eventually(lambda: (cluster.kube.get(names.ROLLOUT, "inside", "team-a").get("status")
                            or {}).get("phase") == "Healthy", 60)
        assert not cluster.kube.get(names.ROLLOUT, "outside", "default").get("status")
    finally:
        replica.halt()


def test_undo_to_the_stable_template_is_a_fast_rollback(cluster: Cluster,
                                                       operator: RunningOperator) -> None:
    cluster.apply(manifests())
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
    stable = status(cluster)["stableRS"]
    set_image(cluster, "rollouts-demo:v2")
    eventually(lambda: canary_weight(cluster) == 200_000, 60, what="canary at 20 %")
    # undo: the template of the previous revision's ReplicaSet, as `kubectl rollouts undo`
    old = cluster.kube.get(names.REPLICA_SET, f"demo-{stable}", "default")
    template = old["spec"]["template"]
    template["metadata"]["labels"].pop(names.HASH_LABEL)
    cluster.kube.patch(names.ROLLOUT, "demo", {"spec": {"template": template}}, "default")
    eventually(lambda: canary_weight(cluster) == 0 and status(cluster).get("phase")
               == "Healthy", 30, what="back on stable at once")
    assert status(cluster)["stableRS"] == stable


def test_operations_patched_while_the_operator_is_down_apply_when_it_returns(
        cluster: Cluster) -> None:
    replica = Replica(cluster, "only")
    cluster.apply(manifests())
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
    set_image(cluster, "rollouts-demo:v2")
    eventually(lambda: canary_weight(cluster) == 200_000, 60)
    replica.halt()
    patch_status(cluster, {"abort": True})
    assert canary_weight(cluster) == 200_000, "nothing happens while it is down"
    replica = Replica(cluster, "again")
    try:
        eventually(lambda: canary_weight(cluster) == 0
                   and status(cluster).get("phase") == "Degraded", 30)
    finally:
        replica.halt()


def test_restart_at_replaces_every_pod_and_records_it(cluster: Cluster,
                                                      operator: RunningOperator) -> None:
    cluster.apply(manifests(replicas=2))
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60)

    def pods() -> set[str]:
        return {p["metadata"]["name"] for p in cluster.kube.list(("v1", "Pod"), "default",
                                                                 "app=demo")
                if not p["metadata"].get("deletionTimestamp")}

    before = pods()
    assert len(before) == 2
    restart_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    cluster.kube.patch(names.ROLLOUT, "demo", {"spec": {
        "restartAt": restart_at.isoformat().replace("+00:00", "Z")}}, "default")
    eventually(lambda: status(cluster).get("restartedAt"), 60,
               what=lambda: f"restart recorded: {status(cluster)}")
    after = pods()
    assert not after & before, (before, after)
    eventually(lambda: status(cluster).get("phase") == "Healthy" and len(pods()) == 2, 30)
