"""The local workload runner: ReplicaSets and Deployments become local processes.

Controllers run in the API server's process and event loop and act through
:class:`rollouts.local.api.Api` directly: the Deployment and ReplicaSet controllers keep
pods in line with replicas, the kubelet runs each pod's containers as local processes on
the pod's own loopback IP, and the EndpointSlice controller lists pod addresses for each
Service.
"""

from rollouts.local.workloads.manager import WorkloadManager

__all__ = ["WorkloadManager"]
