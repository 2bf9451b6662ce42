"""The immutable configuration snapshot every config source produces.

Why this exists: the Kubernetes watch and the directory of manifests are two sources
behind one seam. Both hand the compiler the same frozen ``Snapshot`` (typed objects,
indexed by kind and key), so the compiler and the status computation never know
where the configuration came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from rollouts.api.gatewayapi import (
    EndpointSlice,
    Gateway,
    GatewayClass,
    GRPCRoute,
    HTTPRoute,
    Namespace,
    ReferenceGrant,
    Secret,
    Service,
    parse_resource,
)

__all__ = ["Snapshot", "build_snapshot"]

Key = tuple[str, str]


@dataclass(frozen=True)
class Snapshot:
    """Everything the data plane reads, at one instant. Never mutated after build."""

    gateway_classes: dict[str, GatewayClass] = field(default_factory=dict)
    gateways: dict[Key, Gateway] = field(default_factory=dict)
    http_routes: dict[Key, HTTPRoute] = field(default_factory=dict)
    grpc_routes: dict[Key, GRPCRoute] = field(default_factory=dict)
    reference_grants: dict[Key, ReferenceGrant] = field(default_factory=dict)
    services: dict[Key, Service] = field(default_factory=dict)
    endpoint_slices: dict[Key, EndpointSlice] = field(default_factory=dict)
    secrets: dict[Key, Secret] = field(default_factory=dict)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    def namespace_labels(self, ns: str) -> dict[str, str]:
        n = self.namespaces.get(ns)
        labels = dict(n.metadata.labels) if n is not None else {}
        labels.setdefault("kubernetes.io/metadata.name", ns)
        return labels

    def slices_for(self, namespace: str, service: str) -> list[EndpointSlice]:
        return [
            s
            for (ns, _), s in sorted(self.endpoint_slices.items())
            if ns == namespace and s.service_name == service
        ]


#: the Snapshot field each parsed kind is indexed in
_FIELDS: dict[type, str] = {
    GatewayClass: "gateway_classes", Gateway: "gateways", HTTPRoute: "http_routes",
    GRPCRoute: "grpc_routes", ReferenceGrant: "reference_grants", Service: "services",
    EndpointSlice: "endpoint_slices", Secret: "secrets", Namespace: "namespaces",
}  # fmt: skip


def build_snapshot(objects: Iterable[dict[str, Any]], source: str = "") -> Snapshot:
    """Parse raw manifests into a Snapshot; malformed objects become error strings."""
    snap = Snapshot()
    errors: list[str] = []
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        kind = obj.get("kind")
        name = (obj.get("metadata") or {}).get("name", "?")
        try:
            res = parse_resource(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            errors.append(f"{source}{kind}/{name}: field {loc}: {first['msg']}")
            continue
        if res is None:
            continue
        # cluster-scoped kinds are indexed by name, the others by (namespace, name)
        index: dict[Any, Any] = getattr(snap, _FIELDS[type(res)])
        index[res.metadata.name if isinstance(res, (GatewayClass, Namespace)) else res.key] = res
    return replace(snap, errors=tuple(errors))
