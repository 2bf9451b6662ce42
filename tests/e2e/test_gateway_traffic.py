"""The whole product on local mode: the operator moves the weights, our gateway (watching
the same API) serves them and writes route status, the operator trusts a step only once
the route is Accepted at its generation and the gateway's serving table has the split,
and the analysis reads the gateway's own stats. Real requests follow every step."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
import yaml

from rollouts.kube import names
from rollouts.kube.api import Kube, load_api_client
from rollouts.kube.gateway_watch import serve_cluster
from tests.e2e.conftest import GATEWAY_CRDS, Cluster, RunningOperator, eventually
from tests.e2e.demo import manifests, patch_status, set_image, status
from tests.tools import free_port


class Gateway:
    def __init__(self, port: int, admin: int) -> None:
        self.port, self.admin = port, admin

    def versions(self, count: int) -> Counter[str]:
        seen: Counter[str] = Counter()
        with requests.Session() as session:
            for _ in range(count):
                answer = session.get(f"http://127.0.0.1:{self.port}/", timeout=5)
                seen[answer.json()["version"] if answer.ok else str(answer.status_code)] += 1
        return seen


@pytest.fixture
def gateway(cluster: Cluster) -> Iterator[Gateway]:
    cluster.apply([yaml.safe_load((GATEWAY_CRDS / f"{name}.yaml").read_text())
                   for name in ("gatewayclasses", "gateways", "referencegrants",
                                "grpcroutes")])
    port, admin = free_port(), free_port()
    cluster.apply([
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "rollouts"},
         "spec": {"controllerName": names.GATEWAY_CONTROLLER}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "demo-gateway"},
         "spec": {"gatewayClassName": "rollouts", "listeners": [
             {"name": "http", "protocol": "HTTP", "port": port}]}},
    ])
    kube = Kube(load_api_client(cluster.kubeconfig))
    stopping = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(serve_cluster(kube, host="127.0.0.1", admin_port=admin,
                                                 stop=stop))
        await asyncio.to_thread(stopping.wait)
        stop.set()
        await task

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True,
                              name="gateway")
    thread.start()
    yield Gateway(port, admin)
    stopping.set()
    thread.join(20)
    assert not thread.is_alive(), "gateway did not stop"


@pytest.fixture
def operator_verifying(cluster: Cluster, gateway: Gateway) -> Iterator[RunningOperator]:
    running = RunningOperator(cluster, gateway_admin=f"http://127.0.0.1:{gateway.admin}")
    running.start()
    yield running
    running.stop()


def success_rate_template(admin: int) -> dict[str, object]:
    return {"apiVersion": "rollouts.dev/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": "success-rate"},
            "spec": {"args": [{"name": "service"}], "metrics": [{
                "name": "success-rate", "interval": "1s", "count": 2,
                "successCondition": "result >= 0.95",
                "provider": {"gateway": {"address": f"http://127.0.0.1:{admin}",
                                         "service": "{{args.service}}",
                                         "namespace": "default", "window": "10s",
                                         "stat": "success-rate"}}}]}}


def test_the_issue_steps_through_our_gateway_with_analysis_of_its_stats(
        cluster: Cluster, gateway: Gateway, operator_verifying: RunningOperator) -> None:
    steps = [{"setWeight": 10}, {"pause": {"duration": "2s"}}, {"setWeight": 50},
             {"analysis": {"templates": [{"templateName": "success-rate"}],
                           "args": [{"name": "service", "value": "demo-canary"}]}},
             {"setWeight": 100}]
    docs = manifests(steps=steps)
    docs[3]["spec"]["strategy"]["canary"]["trafficRouting"]["gatewayAPI"].pop("verifyWeights")
    cluster.apply([success_rate_template(gateway.admin), *docs])
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
    eventually(lambda: gateway.versions(10) == Counter({"v1": 10}), 30,
               what="all traffic on v1 through the gateway")
    route = cluster.kube.get(names.HTTP_ROUTE, "demo", "default")
    assert [p["controllerName"] for p in route["status"]["parents"]] == [
        names.GATEWAY_CONTROLLER]
    first = status(cluster)["stableRS"]
    served: list[tuple[int | None, Counter[str]]] = []
    done = threading.Event()

    def traffic() -> None:  # what users see while the rollout runs
        while not done.is_set():
            served.append((status(cluster).get("currentStepIndex"), gateway.versions(20)))

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    set_image(cluster, "rollouts-demo:v2")
    try:
        eventually(lambda: status(cluster).get("phase") == "Healthy"
                   and status(cluster)["stableRS"] != first, 90,
                   what=lambda: f"promoted: {status(cluster)}")
    finally:
        done.set()
        sender.join(10)
    errors = sum(count for _, seen in served for version, count in seen.items()
                 if version not in ("v1", "v2"))
    assert errors == 0, "no request failed during the rollout"
    shares = [seen["v2"] / sum(seen.values()) for index, seen in served
              if index in (1, 2) and sum(seen.values())]
    assert shares and all(abs(share - 0.1) <= 0.05 for share in shares[:3]), shares
    run = cluster.kube.list(names.ANALYSIS_RUN, "default")[0]
    assert run["status"]["phase"] == "Successful"
    assert eventually(lambda: gateway.versions(20) == Counter({"v2": 20}), 30)


def test_exact_splits_while_paused(cluster: Cluster, gateway: Gateway,
                                   operator_verifying: RunningOperator) -> None:
    docs = manifests(steps=[{"setWeight": 25}, {"pause": {}}, {"setWeight": 75},
                            {"pause": {}}])
    docs[3]["spec"]["strategy"]["canary"]["trafficRouting"]["gatewayAPI"].pop("verifyWeights")
    cluster.apply(docs)
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
    set_image(cluster, "rollouts-demo:v2")
    eventually(lambda: status(cluster).get("phase") == "Paused", 60, what="paused at 25 %")
    assert status(cluster)["canary"]["weights"]["verified"] is True
    assert gateway.versions(400) == Counter({"v1": 300, "v2": 100}), "exact 25 % split"
    patch_status(cluster, {"pauseConditions": None})
    eventually(lambda: status(cluster).get("phase") == "Paused"
               and status(cluster).get("currentStepIndex") == 3, 60, what="paused at 75 %")
    assert gateway.versions(400) == Counter({"v1": 100, "v2": 300}), "exact 75 % split"
