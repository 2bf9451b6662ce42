"""The local workload runner: Deployments and ReplicaSets become local processes."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from rollouts.local.testing import ServerThread

from .conftest import kubectl_for


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[client.ApiClient]:
    with ServerThread(kubeconfig=tmp_path / "kc", workloads=True, max_grace=5) as srv:
        api = config.new_client_from_config(config_file=str(srv.kubeconfig))
        try:
            yield api
        finally:
            # Stop the pods' processes before the server goes.
            core = client.CoreV1Api(api)
            core.delete_collection_namespaced_pod("default")
            apps = client.AppsV1Api(api)
            apps.delete_collection_namespaced_deployment("default")
            apps.delete_collection_namespaced_replica_set("default")
            api.close()


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (AssertionError, ApiException, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout}s (last: {last!r})")


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return str(resp.read().decode())


def pod(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "containers": [{"name": "main", "image": "python:3.11", "command": command}],
            **spec,
        },
    }


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting to be reaped counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_exiting_container_restarts_with_backoff(cluster: client.ApiClient) -> None:
    core = client.CoreV1Api(cluster)
    core.create_namespaced_pod("default", pod("crash", [sys.executable, "-c", "exit(3)"]))

    def restarted() -> Any:
        st = core.read_namespaced_pod("crash", "default").status.container_statuses[0]
        return st if st.restart_count >= 1 else None

    status = eventually(restarted)
    assert status.last_state.terminated.exit_code == 3

    def backing_off() -> bool:
        st = core.read_namespaced_pod("crash", "default").status.container_statuses[0]
        return bool(st.state.waiting and st.state.waiting.reason == "CrashLoopBackOff")

    eventually(backing_off)


def test_readiness_probe_and_endpoint_slices(cluster: client.ApiClient) -> None:
    core = client.CoreV1Api(cluster)
    serve = [sys.executable, "-m", "http.server", "9090", "--bind", "$(POD_IP)"]
    ready = pod("web", serve)
    ready["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 9090}]
    ready["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/", "port": "http"},
        "periodSeconds": 1,
    }
    core.create_namespaced_pod("default", ready)
    never = pod("never", [sys.executable, "-c", "import time; time.sleep(600)"])
    never["metadata"]["labels"] = {"app": "web"}
    never["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["false"]},
        "periodSeconds": 1,
    }
    core.create_namespaced_pod("default", never)
    core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    )
    disc = client.DiscoveryV1Api(cluster)

    def slice_ready() -> Any:
        slices = disc.list_namespaced_endpoint_slice(
            "default", label_selector="kubernetes.io/service-name=web"
        ).items
        eps = {e.target_ref.name: e for e in slices[0].endpoints or []}
        return slices[0] if eps.get("web") and eps["web"].conditions.ready else None

    es = eventually(slice_ready)
    by_name = {e.target_ref.name: e for e in es.endpoints}
    assert set(by_name) == {"web", "never"}
    assert by_name["never"].conditions.ready is False
    assert [(p.name, p.port) for p in es.ports] == [("http", 9090)]
    ip = by_name["web"].addresses[0]
    assert ip.startswith("127.") and ip != "127.0.0.1"
    assert "Directory listing" in http_get(f"http://{ip}:9090/")
    ep = core.read_namespaced_endpoints("web", "default")
    assert [a.ip for a in ep.subsets[0].addresses] == [ip]
    assert len(ep.subsets[0].not_ready_addresses) == 1


def test_deleting_a_pod_stops_its_process_after_grace(cluster: client.ApiClient) -> None:
    core = client.CoreV1Api(cluster)
    stubborn = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)\n"
    )
    core.create_namespaced_pod(
        "default",
        pod("stubborn", [sys.executable, "-c", stubborn], terminationGracePeriodSeconds=1),
    )

    def pid() -> int | None:
        sts = core.read_namespaced_pod("stubborn", "default").status.container_statuses
        if sts and sts[0].container_id:
            return int(sts[0].container_id.removeprefix("local://"))
        return None

    p = eventually(pid)
    time.sleep(0.3)
    assert pid_alive(p)
    started = time.monotonic()
    core.delete_namespaced_pod("stubborn", "default")
    # Graceful deletion: the pod stays, marked and not ready, while its process stops.
    marked = core.read_namespaced_pod("stubborn", "default")
    assert marked.metadata.deletion_timestamp is not None
    assert marked.metadata.deletion_grace_period_seconds == 1
    eventually(lambda: not pid_alive(p), timeout=10)
    assert time.monotonic() - started >= 0.9  # SIGTERM was ignored; SIGKILL came after grace

    def gone() -> bool:
        try:
            core.read_namespaced_pod("stubborn", "default")
        except ApiException as exc:
            return exc.status == 404
        return False

    eventually(gone)


def test_deployment_rolls_out_and_scales(cluster: client.ApiClient) -> None:
    apps = client.AppsV1Api(cluster)
    core = client.CoreV1Api(cluster)
    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "demo"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "demo"}},
                "template": {
                    "metadata": {"labels": {"app": "demo"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "rollouts-demo:v1",
                                "ports": [{"containerPort": 8080}],
                                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                            }
                        ]
                    },
                },
            },
        },
    )

    def versions() -> set[str]:
        pods = core.list_namespaced_pod("default", label_selector="app=demo").items
        out = set()
        for p in pods:
            if (
                p.status.pod_ip
                and p.status.container_statuses
                and p.status.container_statuses[0].ready
            ):
                out.add(http_get(f"http://{p.status.pod_ip}:8080/"))
        return out

    def done(n: int) -> bool:
        d = apps.read_namespaced_deployment("demo", "default")
        st = d.status
        return bool(
            st.observed_generation == d.metadata.generation
            and st.updated_replicas == n
            and st.available_replicas == n
            and (st.replicas or 0) == n
        )

    eventually(lambda: done(2))
    assert all('"v1"' in v for v in versions()) and len(versions()) == 2
    # The Service's cluster IP forwards to the ready pods, round-robin.
    svc = core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "demo"},
            "spec": {"selector": {"app": "demo"}, "ports": [{"port": 18080, "targetPort": 8080}]},
        },
    )
    ip = svc.spec.cluster_ip
    assert ip.startswith("127.") and int(ip.split(".")[2]) >= 250  # the Services' block
    pods_seen = eventually(
        lambda: {json.loads(http_get(f"http://{ip}:18080/"))["pod"] for _ in range(6)}
    )
    assert len(pods_seen) == 2
    rs = apps.list_namespaced_replica_set("default").items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
    apps.patch_namespaced_deployment(
        "demo",
        "default",
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "app", "image": "rollouts-demo:v2"}]}}
            }
        },
    )
    eventually(lambda: done(2))
    assert all('"v2"' in v for v in versions())
    assert {
        r.metadata.annotations["deployment.kubernetes.io/revision"]: r.spec.replicas
        for r in apps.list_namespaced_replica_set("default").items
    } == {"1": 0, "2": 2}
    apps.patch_namespaced_deployment_scale("demo", "default", {"spec": {"replicas": 1}})
    eventually(
        lambda: (
            done(1)
            and len(core.list_namespaced_pod("default", label_selector="app=demo").items) == 1
        )
    )
    # Exactly one demo app process is left: none leaked through the rollout and scale-down.
    eventually(lambda: len(demo_processes()) == 1)


def demo_processes() -> list[int]:
    """Child processes of this test process that run the demo app."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[1] == me and stat[0] != "Z" and b"rollouts.local.demoapp" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.needs_kubectl
def test_rollout_restart_and_undo_with_kubectl(tmp_path: Path) -> None:
    kubectl = kubectl_for(tmp_path / "kc", tmp_path)
    with ServerThread(kubeconfig=tmp_path / "kc", workloads=True, max_grace=5):
        try:
            kubectl(
                "create",
                "deployment",
                "web",
                "--image=rollouts-demo:v1",
                "--replicas=2",
                "--port=8080",
            )
            kubectl("rollout", "status", "deploy/web", "--timeout=60s")
            kubectl("rollout", "restart", "deploy/web")
            kubectl("rollout", "status", "deploy/web", "--timeout=60s")
            kubectl("rollout", "undo", "deploy/web")
            kubectl("rollout", "status", "deploy/web", "--timeout=60s")
            history = kubectl("rollout", "history", "deploy/web")
            revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
            assert revisions == ["2", "3"]  # the undone-to revision 1 became 3
            rs = kubectl.get("rs")["items"]
            assert sorted(r["spec"]["replicas"] for r in rs) == [0, 2]
            eventually(lambda: len(demo_processes()) == 2)
            eventually(lambda: "listening on" in kubectl("logs", "deploy/web"))
            wide = kubectl("get", "pods", "-o", "wide").splitlines()
            assert wide[0].split()[5:7] == ["IP", "NODE"]
            assert all(line.split()[5].startswith("127.") for line in wide[1:])
            assert all(line.split()[6] == "local" for line in wide[1:])  # the one node
            assert kubectl("get", "nodes").splitlines()[1].split()[:2] == ["local", "Ready"]
            reasons = set(kubectl("get", "events", "-o", "jsonpath={.items[*].reason}").split())
            assert {
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "SuccessfulDelete",
                "Scheduled",
                "Started",
                "Killing",
            } <= reasons
            assert "Scaled up replica set" in kubectl("describe", "deploy", "web")
        finally:
            kubectl.run("delete", "deploy", "web", check=False)
            eventually(lambda: not demo_processes())


def test_pod_logs_and_follow(cluster: client.ApiClient) -> None:
    core = client.CoreV1Api(cluster)
    ticker = (
        "import time\nfor i in range(300):\n    print('tick', i, flush=True)\n    time.sleep(0.1)"
    )
    core.create_namespaced_pod("default", pod("ticker", [sys.executable, "-c", ticker]))
    eventually(lambda: "tick 2" in core.read_namespaced_pod_log("ticker", "default"))
    assert core.read_namespaced_pod_log("ticker", "default", tail_lines=1).count("tick") == 1
    stream = core.read_namespaced_pod_log("ticker", "default", follow=True, _preload_content=False)
    seen = b""
    deadline = time.monotonic() + 10
    for chunk in stream.stream(64):
        seen += chunk
        if b"tick 25" in seen or time.monotonic() > deadline:
            break
    stream.release_conn()
    assert b"tick 25" in seen  # lines written after the request arrived were streamed


def _deployment(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "main", "image": "python:3.11", "command": command}]
                },
            },
            **spec,
        },
    }


def test_progress_deadline_and_min_ready_seconds(cluster: client.ApiClient) -> None:
    apps = client.AppsV1Api(cluster)
    crash = [sys.executable, "-c", "exit(1)"]
    readiness = {"exec": {"command": ["false"]}, "periodSeconds": 1}
    stuck = _deployment("stuck", crash, progressDeadlineSeconds=2)
    stuck["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = readiness
    apps.create_namespaced_deployment("default", stuck)

    def progressing() -> Any:
        d = apps.read_namespaced_deployment("stuck", "default")
        conds = {c.type: c for c in d.status.conditions or []}
        return conds.get("Progressing")

    cond = eventually(lambda: (c := progressing()) and c.status == "False" and c, timeout=15)
    assert cond.reason == "ProgressDeadlineExceeded"

    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    apps.create_namespaced_deployment("default", _deployment("slow", sleeper, minReadySeconds=3))

    def counts() -> tuple[int, int]:
        st = apps.read_namespaced_deployment("slow", "default").status
        return (st.ready_replicas or 0, st.available_replicas or 0)

    eventually(lambda: counts()[0] == 1)
    started = time.monotonic()
    assert counts() == (1, 0)  # ready, but not yet for minReadySeconds
    eventually(lambda: counts() == (1, 1))
    assert time.monotonic() - started >= 1.0


def test_revision_history_limit_prunes_old_replica_sets(cluster: client.ApiClient) -> None:
    apps = client.AppsV1Api(cluster)
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    apps.create_namespaced_deployment(
        "default", _deployment("hist", sleeper, revisionHistoryLimit=1)
    )
    for version in ("2", "3", "4"):
        apps.patch_namespaced_deployment(
            "hist",
            "default",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "main", "env": [{"name": "V", "value": version}]}
                            ]
                        }
                    }
                }
            },
        )

        def rolled(v: str = version) -> bool:
            d = apps.read_namespaced_deployment("hist", "default")
            return bool(
                d.metadata.annotations.get("deployment.kubernetes.io/revision") == v
                and d.status.updated_replicas == 1
                and d.status.replicas == 1
            )

        eventually(rolled)

    def revisions() -> list[str]:
        items = apps.list_namespaced_replica_set("default").items
        return sorted(r.metadata.annotations["deployment.kubernetes.io/revision"] for r in items)

    eventually(lambda: revisions() == ["3", "4"])
