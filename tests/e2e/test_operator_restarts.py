"""The operator is killed (SIGKILL) at each step of a rollout and started again: the
rollout still finishes right, no weight ever exceeds the step's, nothing is orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rollouts.kube import names
from tests.e2e.conftest import Cluster, eventually
from tests.e2e.demo import canary_weight, manifests, patch_status, set_image, status

STEPS = [{"setWeight": 10}, {"pause": {"duration": "1s"}}, {"setWeight": 30},
         {"pause": {"duration": "1s"}}, {"setWeight": 60}, {"pause": {}}, {"setWeight": 90}]


def allowed_weight(index: int | None) -> int:
    """The canary weight (of 1,000,000) the step at ``index`` allows."""
    if index is None or index >= len(STEPS):
        return 1_000_000
    weights = [s["setWeight"] for s in STEPS[: index + 1] if "setWeight" in s]
    return int((weights[-1] if weights else 0) * 10_000)


class Operator:
    def __init__(self, cluster: Cluster, log: Path) -> None:
        self.kubeconfig = cluster.kubeconfig
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = log

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rollouts.cli.main", "operator", "--kubeconfig",
                 self.kubeconfig, "--no-leader-election"],
                stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def test_sigkill_at_every_step(cluster: Cluster, tmp_path: Path) -> None:
    cluster.apply(manifests(steps=STEPS))
    operator = Operator(cluster, tmp_path / "operator.log")
    operator.start()
    violations: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            weight = canary_weight(cluster)  # route first, then the step: see allowed_weight
            index = status(cluster).get("currentStepIndex")
            if weight > allowed_weight(index):
                violations.append(f"weight {weight} at step index {index}")
            time.sleep(0.02)

    try:
        eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
        first = status(cluster)["stableRS"]
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        set_image(cluster, "rollouts-demo:v2")
        eventually(lambda: status(cluster).get("currentPodHash") != first, 30,
                   what="the canary to start")
        for index in range(1, len(STEPS) + 1):
            eventually(lambda i=index: (status(cluster).get("currentStepIndex") or 0) >= i
                       or status(cluster).get("stableRS") != first, 60,
                       what=f"step index {index}")
            operator.kill()
            time.sleep(0.3)
            if status(cluster).get("phase") == "Paused" and status(cluster).get(
                    "currentStepIndex") == 5:
                patch_status(cluster, {"pauseConditions": None})  # promote while it is down
            operator.start()
        eventually(lambda: status(cluster).get("phase") == "Healthy"
                   and status(cluster).get("stableRS") != first, 60,
                   what=f"promoted: {status(cluster)}\n{operator.log.read_text()[-3000:]}")
        eventually(lambda: canary_weight(cluster) == 0, 10)
        done.set()
        watcher.join(5)
        assert violations == []
        replica_sets = cluster.kube.list(names.REPLICA_SET, "default", "app=demo")
        rollout_uid = cluster.kube.get(names.ROLLOUT, "demo", "default")["metadata"]["uid"]
        assert len(replica_sets) == 2, "no ReplicaSet was created twice"
        for rs in replica_sets:
            owners = rs["metadata"].get("ownerReferences") or []
            assert [o["uid"] for o in owners] == [rollout_uid], "nothing orphaned"
        eventually(lambda: cluster.kube.get(names.REPLICA_SET, f"demo-{first}", "default")[
            "spec"]["replicas"] == 0, 30, what="old ReplicaSet scaled down")
    finally:
        done.set()
        if operator.proc is not None and operator.proc.poll() is None:
            operator.kill()
