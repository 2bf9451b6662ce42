"""Starts and stops the local controllers and the kubelet together."""

from __future__ import annotations

from pathlib import Path

from rollouts.local.api import Api
from rollouts.local.workloads.base import Controller
from rollouts.local.workloads.deployment import DeploymentController
from rollouts.local.workloads.endpoints import EndpointSliceController
from rollouts.local.workloads.kubelet import Kubelet, register_node
from rollouts.local.workloads.proxy import ServiceProxy
from rollouts.local.workloads.replicaset import ReplicaSetController

__all__ = ["WorkloadManager"]


class WorkloadManager:
    """Deployment, ReplicaSet and EndpointSlice controllers plus the local kubelet."""

    def __init__(
        self, api: Api, log_dir: str | Path | None = None, max_grace: float = 30.0
    ) -> None:
        self.api = api
        api.graceful_pods = True
        self.controllers: list[Controller] = [
            DeploymentController(api),
            ReplicaSetController(api),
            EndpointSliceController(api),
            ServiceProxy(api),
        ]
        self.kubelet = Kubelet(api, log_dir=log_dir, max_grace=max_grace)

    def start(self) -> None:
        register_node(self.api)
        for c in self.controllers:
            c.start()
        self.kubelet.start()

    async def stop(self) -> None:
        for c in self.controllers:
            await c.stop()
        await self.kubelet.stop()
