"""CustomResourceDefinitions: validation, establishment and removal.

A CRD written through the API is checked (name is ``<plural>.<group>``, names, scope,
exactly one storage version, an object schema per version: the structural-schema rules
are not enforced), registered so that its resources are served at once, and given the
status a kube-apiserver would write (``NamesAccepted`` and ``Established`` conditions,
``acceptedNames``, ``storedVersions``). Deleting a CRD deletes all its objects.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from rollouts.local.meta import now_iso

if TYPE_CHECKING:
    from rollouts.local.api import Api

__all__ = ["CRD_KEY", "crd_changed", "crd_deleted", "validate_crd"]

CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"


def validate_crd(crd: dict[str, Any]) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    if not group:
        causes.append(("FieldValueRequired", "spec.group", "Required value"))
    if not plural:
        causes.append(("FieldValueRequired", "spec.names.plural", "Required value"))
    if not names.get("kind"):
        causes.append(("FieldValueRequired", "spec.names.kind", "Required value"))
    name = (crd.get("metadata") or {}).get("name", "")
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.scope",
                f'Unsupported value: "{spec.get("scope", "")}": supported values: '
                '"Cluster", "Namespaced"',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            (
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    for i, ver in enumerate(versions):
        sch = (ver.get("schema") or {}).get("openAPIV3Schema")
        if sch is None:
            causes.append(
                (
                    "FieldValueRequired",
                    f"spec.versions[{i}].schema.openAPIV3Schema",
                    "Required value: schemas are required",
                )
            )
        elif sch.get("type") != "object":
            causes.append(
                (
                    "FieldValueRequired",
                    f"spec.versions[{i}].schema.openAPIV3Schema.type",
                    "Required value: must not be empty at the root",
                )
            )
    return causes


def crd_changed(api: Api, crd: dict[str, Any]) -> dict[str, Any]:
    """Serve the CRD's resources and write its status; return the stored CRD."""
    api.registry.add_crd(crd)
    spec = crd.get("spec") or {}
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    old_status = crd.get("status") or {}
    stored_versions = list(old_status.get("storedVersions") or [])
    for v in storage:
        if v not in stored_versions:
            stored_versions.append(v)
    conditions = {c.get("type"): c for c in old_status.get("conditions") or []}
    now = now_iso()
    for ctype, reason, message in (
        ("NamesAccepted", "NoConflicts", "no conflicts found"),
        ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ):
        if ctype not in conditions:
            conditions[ctype] = {
                "type": ctype,
                "status": "True",
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
    status = {
        "conditions": list(conditions.values()),
        "acceptedNames": copy.deepcopy(spec.get("names") or {}),
        "storedVersions": stored_versions,
    }
    if crd.get("status") == status:
        return crd
    new = copy.deepcopy(crd)
    new["status"] = status
    return api.store.put(CRD_KEY, new, "MODIFIED")


def crd_deleted(api: Api, crd: dict[str, Any]) -> None:
    """Stop serving the CRD's resources and delete every object of them."""
    spec = crd.get("spec") or {}
    key = f"{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}"
    types = api.registry.remove_crd(crd["metadata"]["name"])
    for obj in api.store.items(key):
        api.store.remove(key, obj)
        if types:
            for hook in list(api.on_delete):
                hook(types[0], obj)
