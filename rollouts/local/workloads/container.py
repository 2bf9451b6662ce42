"""One container of a local pod: a supervised process with readiness and restarts."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollouts.local.api import Api
from rollouts.local.meta import now_iso
from rollouts.local.workloads.images import ImageNotRunnable, container_argv, expand
from rollouts.local.workloads.probes import run_probe

__all__ = ["ContainerRunner", "container_env", "pod_env"]

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
PR_SET_PDEATHSIG = 1


def _field_ref(pod: dict[str, Any], path: str, ip: str) -> str:
    meta = pod.get("metadata") or {}
    values = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "status.podIP": ip,
        "status.hostIP": "127.0.0.1",
        "spec.nodeName": "local",
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
    }
    if path.startswith("metadata.labels['") and path.endswith("']"):
        return str((meta.get("labels") or {}).get(path[17:-2], ""))
    return str(values.get(path, ""))


def _lookup(api: Api, kind: str, ns: str, name: str, key: str) -> str | None:
    store_key = "/configmaps" if kind == "cm" else "/secrets"
    obj = api.store.peek(store_key, ns, name) or {}
    if kind == "cm":
        value = (obj.get("data") or {}).get(key)
        return None if value is None else str(value)
    raw = (obj.get("data") or {}).get(key)
    if raw is None:
        string = (obj.get("stringData") or {}).get(key)
        return None if string is None else str(string)
    return base64.b64decode(raw).decode(errors="replace")


def pod_env(api: Api, pod: dict[str, Any], ip: str) -> dict[str, str]:
    """The environment every container of the pod starts from."""
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    meta = pod.get("metadata") or {}
    env.update(
        {
            "POD_IP": ip,
            "POD_NAME": meta.get("name", ""),
            "POD_NAMESPACE": meta.get("namespace", ""),
            "HOSTNAME": meta.get("name", ""),
        }
    )
    return env


def container_env(
    api: Api, pod: dict[str, Any], container: dict[str, Any], ip: str, base: dict[str, str]
) -> dict[str, str]:
    env = dict(base)
    ns = (pod.get("metadata") or {}).get("namespace", "")
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            obj = api.store.peek("/configmaps", ns, src["configMapRef"].get("name", "")) or {}
            env.update({prefix + k: str(v) for k, v in (obj.get("data") or {}).items()})
        if "secretRef" in src:
            obj = api.store.peek("/secrets", ns, src["secretRef"].get("name", "")) or {}
            env.update(
                {
                    prefix + k: base64.b64decode(v).decode(errors="replace")
                    for k, v in (obj.get("data") or {}).items()
                }
            )
    for item in container.get("env") or []:
        name = item.get("name", "")
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        ref = item.get("valueFrom") or {}
        value: str | None = None
        if "fieldRef" in ref:
            value = _field_ref(pod, ref["fieldRef"].get("fieldPath", ""), ip)
        elif "configMapKeyRef" in ref:
            r = ref["configMapKeyRef"]
            value = _lookup(api, "cm", ns, r.get("name", ""), r.get("key", ""))
        elif "secretKeyRef" in ref:
            r = ref["secretKeyRef"]
            value = _lookup(api, "secret", ns, r.get("name", ""), r.get("key", ""))
        if value is not None:
            env[name] = value
    return env


class ContainerRunner:
    """Starts, supervises, probes and stops one container's process."""

    def __init__(
        self,
        container: dict[str, Any],
        ip: str,
        base_env: dict[str, str],
        log_path: Path,
        restart_policy: str,
        on_change: Callable[[], None],
        record: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.spec = container
        self.name: str = container.get("name", "")
        self.ip = ip
        self.env = base_env
        self.log_path = log_path
        self.restart_policy = restart_policy
        self.on_change = on_change
        self.record = record or _no_record
        self.proc: asyncio.subprocess.Process | None = None
        self.restart_count = 0
        self.ready = False
        self.started_once = False
        self.finished_code: int | None = None
        self.state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._grace = 30.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._supervise()))
        if self.spec.get("readinessProbe"):
            self._tasks.append(loop.create_task(self._probe_loop(self.spec["readinessProbe"])))

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": "running" in self.state,
            "state": self.state,
        }
        if self.proc is not None:
            out["containerID"] = f"local://{self.proc.pid}"
        if self.last_state:
            out["lastState"] = self.last_state
        return out

    def _set(self, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(self, k, v)
        self.on_change()

    async def _supervise(self) -> None:
        backoff = BACKOFF_START
        while not self._stopping:
            try:
                argv = container_argv(self.spec, self.env)
            except ImageNotRunnable as exc:
                self._set(state={"waiting": {"reason": "ErrImagePull", "message": str(exc)}})
                return
            with open(self.log_path, "ab") as logf:
                try:
                    self.proc = await asyncio.create_subprocess_exec(
                        *argv,
                        env=self.env,
                        stdout=logf,
                        stderr=logf,
                        stdin=asyncio.subprocess.DEVNULL,
                        start_new_session=True,
                        cwd=str(self.log_path.parent),
                        preexec_fn=_die_with_parent,
                    )
                except OSError as exc:
                    self._set(
                        state={"waiting": {"reason": "RunContainerError", "message": str(exc)}}
                    )
                    code = 128
                else:
                    if self._stopping:  # stop() came while the process was being started
                        await self._terminate(self.proc)
                        return
                    self.record("Started", f"Started container {self.name}", "Normal")
                    started = now_iso()
                    has_probe = bool(self.spec.get("readinessProbe"))
                    self._set(
                        state={"running": {"startedAt": started}},
                        started_once=True,
                        ready=not has_probe,
                    )
                    code = await self.proc.wait()
            if self._stopping:
                return
            finished = now_iso()
            self.last_state = {
                "terminated": {
                    "exitCode": code,
                    "finishedAt": finished,
                    "reason": "Completed" if code == 0 else "Error",
                }
            }
            if self.restart_policy == "Never" or (self.restart_policy == "OnFailure" and code == 0):
                self._set(state=self.last_state, ready=False, finished_code=code)
                return
            self.record("BackOff", f"Back-off restarting failed container {self.name}", "Warning")
            self._set(
                state={
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {backoff:.0f}s restarting failed "
                        f"container={self.name}",
                    }
                },
                ready=False,
            )
            waited = 0.0
            while waited < backoff and not self._stopping:
                await asyncio.sleep(0.1)
                waited += 0.1
            backoff = min(backoff * 2, BACKOFF_MAX)
            self.restart_count += 1

    async def _probe_loop(self, probe: dict[str, Any]) -> None:
        await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
        period = float(probe.get("periodSeconds", 10))
        successes_needed = int(probe.get("successThreshold", 1))
        failures_allowed = int(probe.get("failureThreshold", 3))
        ok_run = bad_run = 0
        while not self._stopping:
            if "running" in self.state:
                ok = await run_probe(probe, self.spec, self.ip, self.env)
                ok_run, bad_run = (ok_run + 1, 0) if ok else (0, bad_run + 1)
                if not self.ready and ok_run >= successes_needed:
                    self._set(ready=True)
                elif self.ready and bad_run >= failures_allowed:
                    self._set(ready=False)
            elif self.ready:
                self._set(ready=False)
            await asyncio.sleep(period if self.ready else min(period, 1.0))

    def terminating(self) -> None:
        """The pod is being deleted: not ready any more, and no restarts."""
        self._stopping = True
        self.ready = False

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; also stops a process mid-start."""
        self._stopping = True
        self._grace = grace
        for task in self._tasks[1:]:  # probes
            task.cancel()
        if self.proc is not None:
            await self._terminate(self.proc)
        if self._tasks:
            # The supervisor sees _stopping and ends (terminating a process it was starting).
            await asyncio.wait({self._tasks[0]}, timeout=grace + 5)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is not None:
            return
        self.record("Killing", f"Stopping container {self.name}", "Normal")
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self._grace)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _no_record(reason: str, message: str, type_: str) -> None:
    return None


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the control plane dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
