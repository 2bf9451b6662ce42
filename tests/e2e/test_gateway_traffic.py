"""The whole product on local mode: the operator moves the weights, our gateway (watching
the same API) serves them, writes route status, and the operator trusts the weights only
once that status is in. Real requests through the gateway follow every step."""

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


@pytest.fixture
def gateway(cluster: Cluster) -> Iterator[int]:
    cluster.apply([yaml.safe_load((GATEWAY_CRDS / f"{name}.yaml").read_text())
                   for name in ("gatewayclasses", "gateways", "referencegrants",
                                "grpcroutes")])
    port = free_port()
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
        task = asyncio.create_task(serve_cluster(kube, host="127.0.0.1", admin_port=None,
                                                 stop=stop))
        await asyncio.to_thread(stopping.wait)
        stop.set()
        await task

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True,
                              name="gateway")
    thread.start()
    yield port
    stopping.set()
    thread.join(20)
    assert not thread.is_alive(), "gateway did not stop"


def versions(port: int, count: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    with requests.Session() as session:
        for _ in range(count):
            answer = session.get(f"http://127.0.0.1:{port}/", timeout=5)
            seen[answer.json()["version"] if answer.ok else str(answer.status_code)] += 1
    return seen


def test_requests_through_our_gateway_follow_every_step(
        cluster: Cluster, gateway: int, operator: RunningOperator) -> None:
    docs = manifests(steps=[{"setWeight": 25}, {"pause": {}}, {"setWeight": 75},
                            {"pause": {}}])
    docs[3]["spec"]["strategy"]["canary"]["trafficRouting"]["gatewayAPI"].pop("verifyWeights")
    cluster.apply(docs)
    eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
    assert eventually(lambda: versions(gateway, 20) == Counter({"v1": 20}), 30,
                      what="all traffic on v1 through the gateway")
    route = cluster.kube.get(names.HTTP_ROUTE, "demo", "default")
    parents = route["status"]["parents"]
    assert [p["controllerName"] for p in parents] == [names.GATEWAY_CONTROLLER]
    set_image(cluster, "rollouts-demo:v2")
    eventually(lambda: status(cluster).get("phase") == "Paused", 60, what="paused at 25 %")
    assert status(cluster)["canary"]["weights"]["verified"] is True
    assert versions(gateway, 400) == Counter({"v1": 300, "v2": 100}), "exact 25 % split"
    patch_status(cluster, {"pauseConditions": None})
    eventually(lambda: status(cluster).get("phase") == "Paused"
               and status(cluster).get("currentStepIndex") == 3, 60, what="paused at 75 %")
    assert versions(gateway, 400) == Counter({"v1": 100, "v2": 300}), "exact 75 % split"
    patch_status(cluster, {"pauseConditions": None})
    eventually(lambda: status(cluster).get("phase") == "Healthy"
               and status(cluster)["canary"]["weights"]["canary"]["weight"] == 0, 60)
    eventually(lambda: versions(gateway, 40) == Counter({"v2": 40}), 30,
               what="all traffic on v2")
