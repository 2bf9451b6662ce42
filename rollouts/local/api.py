"""The Kubernetes API semantics, independent of HTTP.

:class:`Api` implements create, get, list, update, patch, delete and deletecollection
for any served :class:`ResourceType`, with the metadata rules operators rely on (uid,
increasing resourceVersion, generation bumped on spec changes only, optimistic
concurrency, finalizers and deletionTimestamp), the status and scale subresources, and
the schema pipeline of custom resources (prune, default, validate). CRDs written here
become served resources at once (:mod:`rollouts.local.crds`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

from rollouts.local import deletion, errors, patch, schema
from rollouts.local.admission import admit
from rollouts.local.builtins import allocate_cluster_ip, keep_cluster_ip
from rollouts.local.crds import crd_changed
from rollouts.local.meta import generate_name, new_uid, now_iso, same_ignoring
from rollouts.local.registry import Registry
from rollouts.local.resources import ResourceType
from rollouts.local.scale import scale_of, set_scale_replicas
from rollouts.local.selectors import parse_field_selector, parse_label_selector
from rollouts.local.store import Store

__all__ = ["Api", "Obj", "Options"]

Obj = dict[str, Any]
Options = dict[str, Any]
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _selection(label_selector: str, field_selector: str) -> Callable[[Obj], bool]:
    """Whether an object matches both selectors (an empty selector matches everything)."""
    labels_ok = parse_label_selector(label_selector) if label_selector else None
    fields_ok = parse_field_selector(field_selector) if field_selector else None

    def selected(obj: Obj) -> bool:
        if labels_ok and not labels_ok((obj.get("metadata") or {}).get("labels") or {}):
            return False
        return not (fields_ok and not fields_ok(obj))

    return selected


class Api:
    """Kubernetes API operations over a :class:`Store`."""

    def __init__(self, store: Store, registry: Registry | None = None) -> None:
        self.store = store
        self.registry = registry or Registry()
        self.on_delete: list[Callable[[ResourceType, Obj], None]] = []
        self.on_terminating: list[Callable[[ResourceType, Obj], None]] = []
        # Set when a kubelet runs pods: pods are then deleted gracefully.
        self.graceful_pods = False
        # Pod and Service IPs of this control plane: 127.N.x.y (see LocalServer).
        self.ip_prefix = "127.1."
        for key, obj in list(store.iter_all()):
            if key == "apiextensions.k8s.io/customresourcedefinitions":
                self.registry.add_crd(obj)
        ns_type = self.type_of("", "v1", "namespaces")
        for name in SYSTEM_NAMESPACES:
            if store.peek(ns_type.key, "", name) is None:
                self.create(ns_type, "", {"metadata": {"name": name}})

    @contextlib.contextmanager
    def dry_run(self, enabled: bool = True) -> Iterator[None]:
        """Within the block, writes are validated and answered but not stored."""
        before = self.store.dry_run
        self.store.dry_run = enabled or before
        try:
            yield
        finally:
            self.store.dry_run = before

    def type_of(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.registry.lookup(group, version, plural)
        if rt is None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return rt

    # -- reads -------------------------------------------------------------------------

    def _out(self, rt: ResourceType, obj: Obj) -> Obj:
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj

    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self.store.get(rt.key, ns if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return self._out(rt, obj)

    def list_objects(
        self,
        rt: ResourceType,
        ns: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[Obj]:
        selected = _selection(label_selector, field_selector)
        items = self.store.items(rt.key, ns if rt.namespaced else None)
        return [self._out(rt, obj) for obj in items if selected(obj)]

    def matches(self, obj: Obj, label_selector: str, field_selector: str) -> bool:
        return _selection(label_selector, field_selector)(obj)

    # -- schema pipeline ---------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        ns: str,
        body: Obj,
        validation: str = "",
        warnings: list[str] | None = None,
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be an object")
        obj = copy.deepcopy(body)
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(f"the kind {kind!r} does not match the resource {rt.plural!r}")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and ns and body_ns != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            ns = ns or body_ns or "default"
            meta["namespace"] = ns
            self._check_namespace(ns, rt)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"])
        for volatile in (
            "uid",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ):
            meta.pop(volatile, None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_iso()
        if rt.status or rt.custom:
            meta["generation"] = 1
        self._out(rt, obj)
        if rt.status and rt.key != "/namespaces":
            obj.pop("status", None)
        if rt.key == "/namespaces":
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        admit(rt, obj, validation, warnings if warnings is not None else [])
        if self.store.peek(rt.key, meta.get("namespace", ""), meta["name"]) is not None:
            raise errors.already_exists(rt.group, rt.plural, meta["name"])
        if rt.key == "/services":
            allocate_cluster_ip(obj, self.store.items("/services"), self.ip_prefix)
        stored = self.store.put(rt.key, obj, "ADDED")
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions" and not self.store.dry_run:
            stored = crd_changed(self, stored)
        return self._out(rt, stored)

    def _check_namespace(self, ns: str, rt: ResourceType) -> None:
        ns_obj = self.store.peek("/namespaces", "", ns)
        if ns_obj is None:
            raise errors.not_found("", "namespaces", ns)
        if (ns_obj.get("metadata") or {}).get("deletionTimestamp") and rt.plural != "events":
            raise errors.ApiError(
                403,
                "Forbidden",
                f"{rt.plural} is forbidden: unable to create new content in namespace {ns} "
                "because it is being terminated",
            )

    def update(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        body: Obj,
        subresource: str = "",
        validation: str = "",
        warnings: list[str] | None = None,
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be an object")
        ns = ns if rt.namespaced else ""
        old = self.store.get(rt.key, ns, name)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        if subresource == "scale":
            return self._update_scale(rt, old, body)
        meta = body.get("metadata") or {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.modified(rt.group, rt.plural, name)
        if not rv and rt.custom:
            raise errors.invalid(rt.group, rt.kind, name, [(
                "FieldValueInvalid",
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            )])
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in body:
                new["status"] = copy.deepcopy(body["status"])
            else:
                new.pop("status", None)
        else:
            new = copy.deepcopy(body)
            new_meta = new.setdefault("metadata", {})
            if not isinstance(new_meta, dict):
                raise errors.bad_request("metadata must be an object")
            for keep in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "namespace",
                "name",
                "generation",
            ):
                if keep in old["metadata"]:
                    new_meta[keep] = old["metadata"][keep]
                else:
                    new_meta.pop(keep, None)
            if rt.status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            if rt.key == "/namespaces":
                new["spec"] = old.get("spec", {})
            if rt.key == "/services":
                keep_cluster_ip(old, new)
            old_fin = set(old["metadata"].get("finalizers") or [])
            new_fin = set(new_meta.get("finalizers") or [])
            if old["metadata"].get("deletionTimestamp") and new_fin - old_fin:
                raise errors.invalid(rt.group, rt.kind, name, [(
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    "Forbidden: no new finalizers can be added if the object is being deleted",
                )])
        self._out(rt, new)
        admit(rt, new, validation, warnings if warnings is not None else [], old)
        return self._commit(rt, old, new)

    def _held(self, rt: ResourceType, obj: Obj) -> bool:
        """Whether something still holds an object marked for deletion."""
        if obj["metadata"].get("finalizers"):
            return True
        if rt.key == "/namespaces" and (obj.get("spec") or {}).get("finalizers"):
            return True
        return (
            rt.key == "/pods"
            and self.graceful_pods
            and bool(obj["metadata"].get("deletionGracePeriodSeconds"))
        )

    def _commit(self, rt: ResourceType, old: Obj, new: Obj) -> Obj:
        """Store ``new`` in place of ``old`` unless nothing changed; bump generation."""
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        self._out(rt, old)
        if new == old:
            return old
        ignored = ("metadata", "status") if rt.status else ("metadata",)
        if "generation" in old["metadata"] and not same_ignoring(old, new, *ignored):
            new["metadata"]["generation"] = int(old["metadata"]["generation"]) + 1
        if new["metadata"].get("deletionTimestamp") and not self._held(rt, new):
            return self._remove(rt, new)
        stored = self._out(rt, self.store.put(rt.key, new, "MODIFIED"))
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions" and not self.store.dry_run:
            stored = self._out(rt, crd_changed(self, stored))
        return stored

    def patch(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        content_type: str,
        body: Any,
        subresource: str = "",
        validation: str = "",
        warnings: list[str] | None = None,
    ) -> Obj:
        ns = ns if rt.namespaced else ""
        old = self.store.get(rt.key, ns, name)
        ctype = content_type.split(";")[0].strip()
        if old is None and ctype == "application/apply-patch+yaml" and not subresource:
            # Server-side apply creates what does not exist yet.
            if not isinstance(body, dict):
                raise errors.bad_request("an apply patch must be an object")
            body = {**body, "metadata": {**(body.get("metadata") or {}), "name": name}}
            return self.create(rt, ns, body, validation, warnings)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        self._out(rt, old)
        current = scale_of(rt, old) if subresource == "scale" else old
        if ctype == "application/merge-patch+json":
            if not isinstance(body, dict):
                raise errors.bad_request("a merge patch must be a JSON object")
            patched = patch.json_merge_patch(current, body)
        elif ctype == "application/json-patch+json":
            patched = patch.json_patch(current, body)
        elif ctype == "application/strategic-merge-patch+json":
            if rt.custom:
                raise errors.unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml"
                )
            if not isinstance(body, dict):
                raise errors.bad_request("a strategic merge patch must be a JSON object")
            patched = patch.strategic_merge_patch(current, body)
        elif ctype == "application/apply-patch+yaml":
            if not isinstance(body, dict):
                raise errors.bad_request("an apply patch must be an object")
            patched = patch.json_merge_patch(current, body)
        else:
            raise errors.unsupported_media_type(f"unsupported patch type {ctype!r}")
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        if subresource == "scale":
            return self._update_scale(rt, old, patched)
        if not isinstance(patched.setdefault("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        patched["metadata"]["name"] = name
        return self.update(rt, ns, name, patched, subresource, validation, warnings)

    def _update_scale(self, rt: ResourceType, old: Obj, scale: Obj) -> Obj:
        if rt.scale is None:
            raise errors.not_found(rt.group, f"{rt.plural}/scale", old["metadata"]["name"])
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.modified(rt.group, rt.plural, old["metadata"]["name"])
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("autoscaling", "Scale", old["metadata"]["name"], [(
                "FieldValueInvalid",
                "spec.replicas",
                f"Invalid value: {replicas!r}: must be greater than or equal to 0",
            )])
        new = set_scale_replicas(rt, copy.deepcopy(old), replicas)
        if rt.schema is not None:
            causes = schema.validate(new, rt.schema)
            if causes:
                raise errors.invalid(rt.group, rt.kind, old["metadata"]["name"], causes)
        return scale_of(rt, self._commit(rt, old, new))

    def delete(
        self, rt: ResourceType, ns: str, name: str, options: Options | None = None
    ) -> tuple[Obj, bool]:
        """Delete or mark for deletion; returns the object and whether it is gone."""
        return deletion.delete(self, rt, ns, name, options or {})

    def _remove(self, rt: ResourceType, obj: Obj) -> Obj:
        return deletion.remove(self, rt, obj)

    def delete_collection(
        self,
        rt: ResourceType,
        ns: str | None,
        label_selector: str = "",
        field_selector: str = "",
        options: Options | None = None,
    ) -> list[Obj]:
        return deletion.delete_collection(self, rt, ns, label_selector, field_selector, options)
