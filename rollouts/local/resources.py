"""The resource types the embedded API server serves.

A :class:`ResourceType` says where a resource lives (group, version, plural), what it is
(kind, namespaced, short names) and what it supports (status and scale subresources, a
structural schema for custom resources, printer columns). :data:`BUILTIN_TYPES` lists
the built-in resources; CustomResourceDefinitions add more at run time
(:func:`types_from_crd`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUILTIN_TYPES",
    "ResourceType",
    "ScaleSpec",
    "types_from_crd",
]

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ScaleSpec:
    """Where the scale subresource reads and writes the replica counts."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = None


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False
    scale: ScaleSpec | None = None
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    custom: bool = False
    list_kind: str = ""
    storage: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Storage key shared by every version of the resource."""
        return f"{self.group}/{self.plural}"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"


def _b(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    scale: bool = False,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        status=status,
        scale=ScaleSpec(label_selector_path=".status.selector") if scale else None,
        categories=categories,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _b("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), status=True),
    _b("", "v1", "services", "Service", short=("svc",), status=True, categories=("all",)),
    _b("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _b("", "v1", "secrets", "Secret"),
    _b("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _b("", "v1", "events", "Event", short=("ev",)),
    _b("", "v1", "pods", "Pod", short=("po",), status=True, categories=("all",)),
    _b("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _b("", "v1", "nodes", "Node", namespaced=False, short=("no",), status=True),
    _b("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _b("events.k8s.io", "v1", "events", "Event", short=("ev",)),
    _b(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        status=True,
        scale=True,
        categories=("all",),
    ),
    _b(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        status=True,
        scale=True,
        categories=("all",),
    ),
    _b("coordination.k8s.io", "v1", "leases", "Lease"),
    # RBAC objects are stored and served (so install manifests apply) but not enforced:
    # local mode has a single user with every permission.
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
       namespaced=False),
    _b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        status=True,
    ),
)


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One :class:`ResourceType` per served version of a CustomResourceDefinition."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out: list[ResourceType] = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", True):
            continue
        sub = ver.get("subresources") or {}
        scale = None
        if "scale" in sub:
            sc = sub["scale"] or {}
            scale = ScaleSpec(
                spec_replicas_path=sc.get("specReplicasPath", ".spec.replicas"),
                status_replicas_path=sc.get("statusReplicasPath", ".status.replicas"),
                label_selector_path=sc.get("labelSelectorPath"),
            )
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=ver["name"],
                plural=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", ""),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in sub,
                scale=scale,
                schema=schema,
                printer_columns=tuple(ver.get("additionalPrinterColumns") or ()),
                custom=True,
                list_kind=names.get("listKind", ""),
                storage=bool(ver.get("storage", False)),
            )
        )
    return out
