"""Models of the objects routes and listeners point at: ReferenceGrant and core/v1 kinds.

Why this exists: a route's backends are Services (resolved to addresses through
EndpointSlices), a listener's certificates are Secrets, a cross-namespace reference
needs a ReferenceGrant, and ``allowedRoutes`` selects Namespaces by label. These are the
referenced side of the graph, split out of ``rollouts.api.gatewayapi``, which re-exports
every name, to keep each model module small; import them from
``rollouts.api.gatewayapi``.
"""

from __future__ import annotations

from pydantic import Field

from rollouts.api.gatewayapi_meta import _Model, _Object

__all__ = [
    "Endpoint",
    "EndpointConditions",
    "EndpointPort",
    "EndpointSlice",
    "Namespace",
    "ReferenceGrant",
    "ReferenceGrantFrom",
    "ReferenceGrantSpec",
    "ReferenceGrantTo",
    "Secret",
    "Service",
    "ServicePort",
    "ServiceSpec",
]


# ---------------------------------------------------------------- ReferenceGrant


class ReferenceGrantFrom(_Model):
    group: str
    kind: str
    namespace: str


class ReferenceGrantTo(_Model):
    group: str
    kind: str
    name: str | None = None


class ReferenceGrantSpec(_Model):
    from_: list[ReferenceGrantFrom] = Field(default_factory=list, alias="from")
    to: list[ReferenceGrantTo] = Field(default_factory=list)


class ReferenceGrant(_Object):
    spec: ReferenceGrantSpec

    def permits(
        self, from_group: str, from_kind: str, from_ns: str, to_group: str, to_kind: str, name: str
    ) -> bool:
        """True when this grant (in the target namespace) allows the reference."""
        ok_from = any(
            f.group == from_group and f.kind == from_kind and f.namespace == from_ns
            for f in self.spec.from_
        )
        ok_to = any(
            t.group == to_group and t.kind == to_kind and t.name in (None, "", name)
            for t in self.spec.to
        )
        return ok_from and ok_to


# ---------------------------------------------------------------- core/v1 and discovery


class ServicePort(_Model):
    name: str | None = None
    port: int
    target_port: int | str | None = None
    protocol: str = "TCP"
    app_protocol: str | None = None


class ServiceSpec(_Model):
    ports: list[ServicePort] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
    type: str = "ClusterIP"
    cluster_ip: str | None = Field(None, alias="clusterIP")


class Service(_Object):
    spec: ServiceSpec = Field(default_factory=ServiceSpec)


class EndpointConditions(_Model):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class Endpoint(_Model):
    addresses: list[str] = Field(default_factory=list)
    conditions: EndpointConditions = Field(default_factory=EndpointConditions)


class EndpointPort(_Model):
    name: str | None = None
    port: int | None = None
    protocol: str = "TCP"
    app_protocol: str | None = None


class EndpointSlice(_Object):
    address_type: str = "IPv4"
    endpoints: list[Endpoint] = Field(default_factory=list)
    ports: list[EndpointPort] = Field(default_factory=list)

    @property
    def service_name(self) -> str | None:
        return self.metadata.labels.get("kubernetes.io/service-name")


class Namespace(_Object):
    """Only the labels matter: they feed allowedRoutes.namespaces.selector."""


class Secret(_Object):
    type: str = "Opaque"
    data: dict[str, str] = Field(default_factory=dict)
    string_data: dict[str, str] = Field(default_factory=dict)
