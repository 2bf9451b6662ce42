"""The local kubelet: every pod's containers run as local processes.

Each pod gets its own loopback IP (``127.N.x.y``, in ``status.podIP`` and in the
``POD_IP`` environment variable) so that every replica can listen on its declared
containerPort. Readiness comes from the readinessProbe or, without one, from the process
having started. A container that exits is restarted with exponential back-off (1 s up to
30 s) and its ``restartCount`` rises; ``restartPolicy: Never``/``OnFailure`` are honoured.
When a pod is deleted its processes get SIGTERM, then SIGKILL after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import tempfile
from pathlib import Path
from typing import Any

from rollouts.local.api import Api
from rollouts.local.errors import ApiError
from rollouts.local.gc import finish_task
from rollouts.local.meta import now_iso
from rollouts.local.workloads.base import write_status
from rollouts.local.workloads.container import ContainerRunner, container_env, pod_env
from rollouts.local.workloads.events import record_event

__all__ = ["NODE_NAME", "Kubelet", "register_node"]

log = logging.getLogger(__name__)
POD_KEY = "/pods"


class _Pod:
    def __init__(self, pod: dict[str, Any], ip: str, containers: list[ContainerRunner]) -> None:
        self.uid: str = pod["metadata"]["uid"]
        self.ns: str = pod["metadata"]["namespace"]
        self.name: str = pod["metadata"]["name"]
        self.ip = ip
        self.grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        self.containers = containers
        self.start_time = now_iso()


class Kubelet:
    """Runs the pods stored in the API as processes on this machine."""

    def __init__(
        self, api: Api, log_dir: str | Path | None = None, max_grace: float = 30.0
    ) -> None:
        self.api = api
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="rollouts-pods-")
            log_dir = self._tmp.name
        self.log_dir = Path(log_dir)
        self.max_grace = max_grace
        self.pods: dict[tuple[str, str], _Pod] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._killing: set[asyncio.Task[None]] = set()
        self._stopping_keys: set[tuple[str, str]] = set()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            task, self._task = self._task, None
            await finish_task(task)
        await asyncio.gather(*(self._kill(key) for key in list(self.pods)))
        if self._killing:
            await asyncio.wait(set(self._killing), timeout=self.max_grace + 5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _run(self) -> None:
        sub = self.api.store.subscribe(POD_KEY)
        try:
            await self._sync_all()
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    change = await asyncio.wait_for(sub.queue.get(), 1.0)
                    if change is None:
                        return
                # Drain whatever else arrived, then converge on the stored state.
                while not sub.queue.empty():
                    if sub.queue.get_nowait() is None:
                        return
                if not self._stopping:
                    await self._sync_all()
        finally:
            sub.close()

    # -- convergence -------------------------------------------------------------------

    async def _sync_all(self) -> None:
        stored = {
            (p["metadata"]["namespace"], p["metadata"]["name"]): p
            for p in self.api.store.items(POD_KEY)
        }
        for key, running in list(self.pods.items()):
            pod = stored.get(key)
            uid: str | None = None
            if pod is not None and pod["metadata"]["uid"] == running.uid:
                if not pod["metadata"].get("deletionTimestamp"):
                    continue
                # Graceful deletion: stop the processes, then remove the pod.
                running.grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
                uid = running.uid
                for c in running.containers:
                    c.terminating()
                self.write_status(key)
            self._stopping_keys.add(key)
            task = asyncio.get_running_loop().create_task(self._kill(key, uid))
            self._killing.add(task)
            task.add_done_callback(self._killing.discard)
        for key, pod in stored.items():
            if key in self.pods:
                continue
            if pod["metadata"].get("deletionTimestamp"):
                if key not in self._stopping_keys:
                    self._finish_delete(key, pod["metadata"]["uid"])
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                continue
            self._launch(pod)
        for key in list(self.pods):
            if key in stored:
                self.write_status(key)

    def _allocate_ip(self, pod: dict[str, Any]) -> str:
        used = {(p.get("status") or {}).get("podIP") for p in self.api.store.items(POD_KEY)}
        used |= {p.ip for p in self.pods.values()}
        mine = (pod.get("status") or {}).get("podIP")
        if mine and mine not in {p.ip for p in self.pods.values()}:
            return str(mine)
        ports = [
            (int(p["containerPort"]), p.get("protocol", "TCP"))
            for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []
            if isinstance(p.get("containerPort"), int)
        ]
        n = 1
        while True:
            ip = f"{self.api.ip_prefix}{n // 250}.{n % 250 + 1}"
            # Another local control plane (or anything else) may hold the address.
            if ip not in used and all(_free(ip, port, proto) for port, proto in ports):
                return ip
            n += 1

    def _launch(self, pod: dict[str, Any]) -> None:
        if not (pod.get("spec") or {}).get("nodeName"):
            self._bind(pod)
        ip = self._allocate_ip(pod)
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        env_base = pod_env(self.api, pod, ip)
        pod_dir = self.log_dir / f"{key[0]}_{key[1]}_{pod['metadata']['uid'][:8]}"
        pod_dir.mkdir(parents=True, exist_ok=True)
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        runners = [
            ContainerRunner(
                c,
                ip,
                container_env(self.api, pod, c, ip, env_base),
                pod_dir / f"{c['name']}.log",
                policy,
                on_change=functools.partial(self.write_status, key),
                record=functools.partial(self._record, key),
            )
            for c in (pod.get("spec") or {}).get("containers") or []
        ]
        running = _Pod(pod, ip, runners)
        self.pods[key] = running
        for r in runners:
            r.start()
        self.write_status(key)

    def _record(self, key: tuple[str, str], reason: str, message: str, type_: str) -> None:
        pod = self.api.store.get(POD_KEY, *key)
        if pod is not None:
            pod["apiVersion"], pod["kind"] = "v1", "Pod"
            record_event(self.api, pod, reason, message, "kubelet", type_)

    def _bind(self, pod: dict[str, Any]) -> None:
        """Schedule the pod here, as the scheduler's binding does."""
        pod_type = self.api.type_of("", "v1", "pods")
        bound = dict(pod)
        bound["spec"] = {**(pod.get("spec") or {}), "nodeName": NODE_NAME}
        try:
            self.api.update(pod_type, pod["metadata"]["namespace"], pod["metadata"]["name"], bound)
        except ApiError as exc:
            log.debug("binding %s: %s", pod["metadata"]["name"], exc.message)
            return
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        record_event(
            self.api,
            {**pod, "apiVersion": "v1", "kind": "Pod"},
            "Scheduled",
            f"Successfully assigned {ns}/{name} to {NODE_NAME}",
            "default-scheduler",
        )

    async def _kill(self, key: tuple[str, str], uid: str | None = None) -> None:
        """Stop the pod's processes; with ``uid``, then remove the pod from the API."""
        running = self.pods.pop(key, None)
        try:
            if running is not None:
                grace = min(running.grace, self.max_grace)
                await asyncio.gather(*(c.stop(grace) for c in running.containers))
            if uid is not None:
                self._finish_delete(key, uid)
        finally:
            self._stopping_keys.discard(key)

    def _finish_delete(self, key: tuple[str, str], uid: str) -> None:
        pod_type = self.api.type_of("", "v1", "pods")
        options = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            self.api.delete(pod_type, key[0], key[1], options)
        except ApiError as exc:
            log.debug("pod %s: %s", key, exc.message)

    def log_path(self, ns: str, name: str, container: str | None) -> Path | None:
        running = self.pods.get((ns, name))
        if running is None or not running.containers:
            return None
        for c in running.containers:
            if container is None or c.name == container:
                return c.log_path
        return None

    # -- status ------------------------------------------------------------------------

    def write_status(self, key: tuple[str, str]) -> None:
        running = self.pods.get(key)
        if running is None:
            return
        pod = self.api.store.get(POD_KEY, *key)
        if pod is None or pod["metadata"]["uid"] != running.uid:
            return
        old = pod.get("status") or {}
        statuses = [c.status() for c in running.containers]
        all_ready = bool(statuses) and all(s["ready"] for s in statuses)
        started = all(c.started_once for c in running.containers)
        finished = [c.finished_code for c in running.containers]
        if all(code is not None for code in finished) and finished:
            phase = "Succeeded" if all(code == 0 for code in finished) else "Failed"
        else:
            phase = "Running" if started else "Pending"
        old_conds = {c["type"]: c for c in old.get("conditions") or []}
        now = now_iso()

        def cond(ctype: str, ok: bool) -> dict[str, Any]:
            status = "True" if ok else "False"
            prev = old_conds.get(ctype) or {}
            since = prev.get("lastTransitionTime", now) if prev.get("status") == status else now
            return {
                "type": ctype,
                "status": status,
                "lastProbeTime": None,
                "lastTransitionTime": since,
            }

        status = {
            "phase": phase,
            "conditions": [
                cond("PodScheduled", True),
                cond("Initialized", True),
                cond("ContainersReady", all_ready),
                cond("Ready", all_ready),
            ],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": running.ip,
            "podIPs": [{"ip": running.ip}],
            "startTime": old.get("startTime", running.start_time),
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }
        pod_type = self.api.type_of("", "v1", "pods")
        try:
            write_status(self.api, pod_type, pod, status)
        except ApiError as exc:
            log.debug("pod status %s: %s", key, exc.message)


def _free(ip: str, port: int, protocol: str) -> bool:
    kind = socket.SOCK_DGRAM if protocol == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


NODE_NAME = "local"


def register_node(api: Api) -> None:
    """The one Node this kubelet is: Ready, on 127.0.0.1."""
    node_type = api.type_of("", "v1", "nodes")
    now = now_iso()
    status = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "local kubelet is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": socket.gethostname()},
        ],
        "nodeInfo": {
            "kubeletVersion": "v1.35.0-local",
            "operatingSystem": "linux",
            "architecture": "amd64",
            "containerRuntimeVersion": "local://processes",
            "kernelVersion": "",
            "osImage": "",
            "kubeProxyVersion": "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }
    node = api.store.get("/nodes", "", NODE_NAME)
    if node is None:
        node = api.create(
            node_type,
            "",
            {
                "metadata": {
                    "name": NODE_NAME,
                    "labels": {
                        "kubernetes.io/hostname": NODE_NAME,
                        "kubernetes.io/os": "linux",
                        "node-role.kubernetes.io/local": "",
                    },
                },
                "spec": {},
            },
        )
    node["status"] = status
    api.update(node_type, "", NODE_NAME, node, "status")
