"""The gateway in cluster mode starts before the Gateway API CRDs exist.

Local mode without ``--gateway-api-crds`` (and a fresh cluster) serve no
gateway.networking.k8s.io kinds at first. The gateway must keep looking for them, not
lose its watches, and serve the routes once the CRDs and the objects are applied.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import aiohttp
import yaml

from rollouts.gateway.echo import start_echo
from rollouts.kube import names
from rollouts.kube.api import Kube, load_api_client
from rollouts.kube.gateway_watch import serve_cluster
from rollouts.local.testing import ServerThread
from tests.e2e.conftest import GATEWAY_CRDS, Cluster
from tests.tools import free_port

ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")


def _objects(port: int, backend_port: int) -> list[dict[str, Any]]:
    v1 = "gateway.networking.k8s.io/v1"
    return [
        {"apiVersion": v1, "kind": "GatewayClass", "metadata": {"name": "rollouts"},
         "spec": {"controllerName": names.GATEWAY_CONTROLLER}},
        {"apiVersion": v1, "kind": "Gateway", "metadata": {"name": "gw"},
         "spec": {"gatewayClassName": "rollouts",
                  "listeners": [{"name": "http", "protocol": "HTTP", "port": port}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend_port}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": backend_port}],
         "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]},
        {"apiVersion": v1, "kind": "HTTPRoute", "metadata": {"name": "web"},
         "spec": {"parentRefs": [{"name": "gw"}],
                  "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}},
    ]  # fmt: skip


async def test_gateway_serves_routes_whose_crds_arrive_after_it_started() -> None:
    port, admin = free_port(), free_port()
    with ServerThread() as server:
        cluster = Cluster(str(server.kubeconfig))
        echo = await start_echo("web")
        backend_port = echo.sockets[0].getsockname()[1]
        stop = asyncio.Event()
        kube = Kube(load_api_client(str(server.kubeconfig)))
        gateway = asyncio.create_task(serve_cluster(kube, host="127.0.0.1", admin_port=admin,
                                                    stop=stop))  # fmt: skip
        try:
            await asyncio.sleep(1.0)  # the watches find no Gateway API kinds...
            watchers = [t for t in threading.enumerate() if t.name.startswith("watch ")]
            assert len(watchers) >= 5 and all(t.is_alive() for t in watchers)
            # ...until the CRDs are installed, then the objects applied
            await asyncio.to_thread(cluster.apply, [
                yaml.safe_load((GATEWAY_CRDS / f"{name}.yaml").read_text())
                for name in ("gatewayclasses", "gateways", "httproutes", "referencegrants",
                             "grpcroutes")])  # fmt: skip
            await asyncio.to_thread(cluster.apply, _objects(port, backend_port))
            async with aiohttp.ClientSession() as http:
                for _ in range(300):  # the watches look again every few seconds
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/") as resp:
                            if resp.status == 200 and resp.headers["x-backend"] == "web":
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the route was never served")
            # status follows the data plane (written once the table serves the route)
            for _ in range(100):
                route = await asyncio.to_thread(cluster.kube.get, ROUTE, "web", "default")
                ours = [p for p in route.get("status", {}).get("parents", [])
                        if p["controllerName"] == names.GATEWAY_CONTROLLER]
                if ours and {c["type"]: c["status"] for c in ours[0]["conditions"]}.get(
                        "Accepted") == "True":
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the route was never accepted: {route.get('status')}")
        finally:
            stop.set()
            await asyncio.wait_for(gateway, 30)
            echo.close()
