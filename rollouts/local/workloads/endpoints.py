"""EndpointSlice (and Endpoints) controller for Services with a selector.

For each Service, one ``discovery.k8s.io/v1`` EndpointSlice labelled
``kubernetes.io/service-name`` lists the addresses of the pods the selector matches
(ready and not-ready, with conditions) and the Service ports resolved to container ports
(numbers or names). A legacy ``v1`` Endpoints object is kept alongside. Both are owned by
the Service, so they go when it goes.
"""

from __future__ import annotations

import copy
from typing import Any

from rollouts.local.workloads.base import Controller, Key, Obj, controller_ref
from rollouts.local.workloads.replicaset import pod_is_ready

__all__ = ["EndpointSliceController"]

SVC_KEY = "/services"
POD_KEY = "/pods"
SLICE_KEY = "discovery.k8s.io/endpointslices"
MANAGED_BY = "endpointslice-controller.k8s.io"


def _target_port(svc_port: dict[str, Any], pod: Obj) -> int | None:
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


class EndpointSliceController(Controller):
    primary = SVC_KEY
    watches = (SVC_KEY, POD_KEY, SLICE_KEY)

    def keys_for(self, key: str, obj: Obj) -> list[Key]:
        ns = obj["metadata"].get("namespace", "")
        if key == POD_KEY:
            labels = obj["metadata"].get("labels") or {}
            out = []
            for svc in self.api.store.items(SVC_KEY, ns):
                sel = (svc.get("spec") or {}).get("selector") or {}
                if sel and all(labels.get(k) == v for k, v in sel.items()):
                    out.append((ns, svc["metadata"]["name"]))
            return out
        if key == SLICE_KEY:
            name = (obj["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
            return [(ns, name)] if name else []
        return super().keys_for(key, obj)

    def reconcile(self, ns: str, name: str) -> float | None:
        api = self.api
        svc = api.store.get(SVC_KEY, ns, name)
        if svc is None or svc["metadata"].get("deletionTimestamp"):
            return None
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not selector:
            return None
        pods = [
            p
            for p in api.store.items(POD_KEY, ns)
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            and (p.get("status") or {}).get("podIP")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        svc_ports = (svc.get("spec") or {}).get("ports") or []
        ports = []
        for sp in svc_ports:
            resolved = next((_target_port(sp, p) for p in pods if _target_port(sp, p)), None)
            if resolved is None and pods:
                continue
            port: dict[str, Any] = {
                "name": sp.get("name", ""),
                "port": resolved
                if resolved is not None
                else _target_port(sp, {}) or sp.get("port"),
                "protocol": sp.get("protocol", "TCP"),
            }
            if sp.get("appProtocol"):
                port["appProtocol"] = sp["appProtocol"]
            ports.append(port)
        endpoints: list[dict[str, Any]] = []
        for p in sorted(pods, key=lambda p: p["metadata"]["name"]):
            ready = pod_is_ready(p) and not p["metadata"].get("deletionTimestamp")
            endpoints.append(
                {
                    "addresses": [p["status"]["podIP"]],
                    "conditions": {
                        "ready": ready,
                        "serving": pod_is_ready(p),
                        "terminating": bool(p["metadata"].get("deletionTimestamp")),
                    },
                    "nodeName": "local",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": ns,
                        "name": p["metadata"]["name"],
                        "uid": p["metadata"]["uid"],
                    },
                }
            )
        owner = [controller_ref(svc)]
        slice_obj: Obj = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-local",
                "namespace": ns,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
                },
                "ownerReferences": owner,
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }
        self._put(api.type_of("discovery.k8s.io", "v1", "endpointslices"), ns, slice_obj)
        ready_addr = [
            {"ip": e["addresses"][0], "targetRef": e["targetRef"]}
            for e in endpoints
            if e["conditions"]["ready"]
        ]
        not_ready = [
            {"ip": e["addresses"][0], "targetRef": e["targetRef"]}
            for e in endpoints
            if not e["conditions"]["ready"]
        ]
        subset: dict[str, Any] = {
            "ports": [{k: v for k, v in p.items() if k != "appProtocol"} for p in ports]
        }
        if ready_addr:
            subset["addresses"] = ready_addr
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        ep = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "ownerReferences": owner},
            "subsets": [subset] if endpoints else [],
        }
        self._put(api.type_of("", "v1", "endpoints"), ns, ep)
        return None

    def _put(self, rt: Any, ns: str, want: Obj) -> None:
        current = self.api.store.get(rt.key, ns, want["metadata"]["name"])
        if current is None:
            self.api.create(rt, ns, want)
            return
        new = copy.deepcopy(current)
        new["metadata"]["labels"] = want["metadata"].get("labels", {})
        new["metadata"]["ownerReferences"] = want["metadata"]["ownerReferences"]
        for k, v in want.items():
            if k not in ("metadata", "apiVersion", "kind"):
                new[k] = v
        if not want["metadata"].get("labels"):
            new["metadata"].pop("labels", None)
        self.api.update(rt, ns, want["metadata"]["name"], new)
