"""ReplicaSet controller: as many pods as ``spec.replicas``, and status counts."""

from __future__ import annotations

import copy
from typing import Any

from rollouts.local.meta import generate_name, seconds_since
from rollouts.local.selectors import selector_from_label_selector
from rollouts.local.workloads.base import (
    Controller,
    Key,
    Obj,
    controller_key,
    controller_ref,
    owned_by,
    write_status,
)
from rollouts.local.workloads.events import record_event

__all__ = ["ReplicaSetController", "pod_is_active", "pod_is_ready"]

RS_KEY = "apps/replicasets"
POD_KEY = "/pods"


def pod_is_active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase", "Pending")
    return not pod["metadata"].get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def pod_is_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _ready_for(pod: Obj) -> float:
    """Seconds since the pod became ready."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("lastTransitionTime"):
            return seconds_since(cond["lastTransitionTime"])
    return 0.0


class ReplicaSetController(Controller):
    primary = RS_KEY
    watches = (RS_KEY, POD_KEY)

    def keys_for(self, key: str, obj: Obj) -> list[Key]:
        if key == POD_KEY:
            return controller_key(obj, "ReplicaSet")
        return super().keys_for(key, obj)

    def reconcile(self, ns: str, name: str) -> float | None:
        api = self.api
        rs_type = api.type_of("apps", "v1", "replicasets")
        pod_type = api.type_of("", "v1", "pods")
        rs = api.store.get(RS_KEY, ns, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return None
        rs["apiVersion"], rs["kind"] = "apps/v1", "ReplicaSet"
        uid = rs["metadata"]["uid"]
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas", 1))
        matches = selector_from_label_selector(spec.get("selector"))
        pods = [p for p in api.store.items(POD_KEY, ns) if owned_by(p, uid)]
        active = [p for p in pods if pod_is_active(p)]
        if len(active) < want:
            template = spec.get("template") or {}
            for _ in range(want - len(active)):
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        **copy.deepcopy(template.get("metadata") or {}),
                        "name": generate_name(f"{name}-"),
                        "namespace": ns,
                        "ownerReferences": [controller_ref(rs)],
                    },
                    "spec": copy.deepcopy(template.get("spec") or {}),
                }
                created = api.create(pod_type, ns, pod)
                active.append(created)
                record_event(
                    api,
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {created['metadata']['name']}",
                    "replicaset-controller",
                )
        elif len(active) > want:
            # Delete not-ready pods first, then the newest.
            newest_first = sorted(
                active, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True
            )
            doomed = sorted(newest_first, key=pod_is_ready)[: len(active) - want]
            for pod in doomed:
                api.delete(pod_type, ns, pod["metadata"]["name"])
                record_event(
                    api,
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    "replicaset-controller",
                )
                active.remove(pod)
        ready = [p for p in active if pod_is_ready(p)]
        min_ready = float(spec.get("minReadySeconds", 0) or 0)
        available = [p for p in ready if _ready_for(p) >= min_ready]
        requeue = min_ready if len(available) < len(ready) else None
        labeled = [p for p in active if matches(p["metadata"].get("labels") or {})]
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(labeled),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        for key in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if not status[key]:
                del status[key]
        write_status(api, rs_type, rs, status)
        return requeue
