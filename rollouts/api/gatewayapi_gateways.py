"""Gateway API models of GatewayClass and Gateway (with its listeners).

Why this exists: these are the kinds that say which gateways this controller owns and
what they listen on (ports, protocols, hostnames, TLS certificates, which routes may
attach). They are split out of ``rollouts.api.gatewayapi``, which re-exports every name,
to keep each model module small; import them from ``rollouts.api.gatewayapi``.
"""

from __future__ import annotations

from pydantic import Field

from rollouts.api.gatewayapi_meta import GATEWAY_GROUP, LabelSelector, _Model, _Object

__all__ = [
    "AllowedRoutes",
    "Gateway",
    "GatewayAddress",
    "GatewayClass",
    "GatewayClassSpec",
    "GatewaySpec",
    "Listener",
    "ListenerTLS",
    "ParametersRef",
    "RouteGroupKind",
    "RouteNamespaces",
    "SecretObjectReference",
]


# ---------------------------------------------------------------- GatewayClass


class ParametersRef(_Model):
    group: str = ""
    kind: str = ""
    name: str = ""
    namespace: str | None = None


class GatewayClassSpec(_Model):
    controller_name: str
    description: str | None = None
    parameters_ref: ParametersRef | None = None


class GatewayClass(_Object):
    spec: GatewayClassSpec


# ---------------------------------------------------------------- Gateway


class RouteNamespaces(_Model):
    from_: str = Field("Same", alias="from")
    selector: LabelSelector | None = None


class RouteGroupKind(_Model):
    group: str = GATEWAY_GROUP
    kind: str


class AllowedRoutes(_Model):
    namespaces: RouteNamespaces = Field(default_factory=lambda: RouteNamespaces(**{"from": "Same"}))
    kinds: list[RouteGroupKind] = Field(default_factory=list)


class SecretObjectReference(_Model):
    group: str = ""
    kind: str = "Secret"
    name: str
    namespace: str | None = None


class ListenerTLS(_Model):
    mode: str = "Terminate"
    certificate_refs: list[SecretObjectReference] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)


class Listener(_Model):
    name: str
    hostname: str | None = None
    port: int
    protocol: str
    tls: ListenerTLS | None = None
    allowed_routes: AllowedRoutes = Field(default_factory=AllowedRoutes)


class GatewayAddress(_Model):
    type: str = "IPAddress"
    value: str


class GatewaySpec(_Model):
    gateway_class_name: str
    listeners: list[Listener] = Field(default_factory=list)
    addresses: list[GatewayAddress] = Field(default_factory=list)


class Gateway(_Object):
    spec: GatewaySpec
