"""Deletion: finalizers, deletionTimestamp, graceful pods, propagation policies.

An object with finalizers (or ``foregroundDeletion`` for the Foreground policy, or
``spec.finalizers`` for a namespace, or a grace period for a pod a kubelet runs) is marked
with ``deletionTimestamp`` and stays until they are gone; otherwise it is removed at once.
The Orphan policy strips the owner reference from dependents first; the garbage
collector (:mod:`rollouts.local.gc`) does the Background and Foreground cascades.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from rollouts.local import errors
from rollouts.local.crds import crd_deleted
from rollouts.local.meta import now_iso
from rollouts.local.resources import ResourceType

if TYPE_CHECKING:
    from rollouts.local.api import Api

__all__ = ["delete", "delete_collection", "remove"]

Obj = dict[str, Any]
Options = dict[str, Any]


def delete(api: Api, rt: ResourceType, ns: str, name: str, options: Options) -> tuple[Obj, bool]:
    """Delete or mark for deletion; returns the object and whether it is gone."""
    ns = ns if rt.namespaced else ""
    old = api.store.get(rt.key, ns, name)
    if old is None:
        raise errors.not_found(rt.group, rt.plural, name)
    api._out(rt, old)
    pre = options.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
        raise errors.conflict(
            rt.group,
            rt.plural,
            name,
            f"Precondition failed: UID in precondition: {pre['uid']}, "
            f"UID in object meta: {old['metadata']['uid']}",
        )
    if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
        raise errors.modified(rt.group, rt.plural, name)
    policy = options.get("propagationPolicy") or (
        "Orphan" if options.get("orphanDependents") else "Background"
    )
    if policy == "Orphan":
        _orphan_dependents(api, old["metadata"]["uid"])
    new = copy.deepcopy(old)
    meta = new["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if policy == "Foreground" and "foregroundDeletion" not in finalizers:
        finalizers.append("foregroundDeletion")
    blocked = bool(finalizers)
    grace = 0
    if rt.key == "/namespaces":
        # Namespaces wait for their contents: spec.finalizers holds "kubernetes".
        new.setdefault("status", {})["phase"] = "Terminating"
        blocked = blocked or bool((new.get("spec") or {}).get("finalizers"))
    if rt.key == "/pods" and api.graceful_pods:
        # A kubelet runs pods: it stops the processes, then removes the pod.
        asked = options.get("gracePeriodSeconds")
        if asked is None:
            asked = (new.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        grace = max(int(asked), 0)
        if meta.get("deletionTimestamp") and grace > 0:
            return old, False
        if meta.get("deletionTimestamp"):
            meta["deletionGracePeriodSeconds"] = 0
        blocked = blocked or grace > 0
    if not blocked:
        return remove(api, rt, old), True
    if finalizers:
        meta["finalizers"] = finalizers
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now_iso(grace)
        meta["deletionGracePeriodSeconds"] = grace
        if "generation" in meta:
            meta["generation"] = int(meta["generation"]) + 1
    if new == old:
        return old, False
    marked = api._out(rt, api.store.put(rt.key, new, "MODIFIED"))
    if api.store.dry_run:
        return marked, False
    for hook in list(api.on_terminating):
        hook(rt, marked)
    return marked, False


def remove(api: Api, rt: ResourceType, obj: Obj) -> Obj:
    """Remove ``obj`` from the store and run the deletion hooks."""
    final = api._out(rt, api.store.remove(rt.key, obj))
    if api.store.dry_run:
        return final
    if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
        crd_deleted(api, final)
    for hook in list(api.on_delete):
        hook(rt, final)
    return final


def _orphan_dependents(api: Api, uid: str) -> None:
    for key, obj in list(api.store.iter_all()):
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        if any(r.get("uid") == uid for r in refs):
            rt = api.registry.storage_type(key)
            if rt is None:
                continue
            new = copy.deepcopy(obj)
            new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            api._commit(rt, copy.deepcopy(obj), new)


def delete_collection(
    api: Api,
    rt: ResourceType,
    ns: str | None,
    label_selector: str = "",
    field_selector: str = "",
    options: Options | None = None,
) -> list[Obj]:
    out = []
    for obj in api.list_objects(rt, ns, label_selector, field_selector):
        meta = obj["metadata"]
        try:
            gone, _ = delete(api, rt, meta.get("namespace", ""), meta["name"], options or {})
        except errors.ApiError as exc:
            if exc.code == 404:
                continue
            raise
        out.append(gone)
    return out
