"""Pydantic models of the Gateway API subset the data plane reads.

Why this exists: the gateway compiles GatewayClass, Gateway, HTTPRoute, GRPCRoute,
ReferenceGrant, Service, EndpointSlice and Secret objects into a routing table. These
models give that compiler typed, defaulted input. They are deliberately lenient
(``extra="ignore"``): the upstream CRD schema is the validator, and a newer field we do
not know yet must never stop a gateway from loading its config. Defaults follow the
upstream CRDs (gateway.networking.k8s.io v1, standard channel v1.6.1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "CONTROLLER_NAME",
    "GATEWAY_GROUP",
    "AllowedRoutes",
    "BackendRef",
    "EndpointSlice",
    "GRPCRoute",
    "Gateway",
    "GatewayClass",
    "GatewaySpec",
    "HTTPRoute",
    "HTTPRouteFilter",
    "HTTPRouteMatch",
    "HTTPRouteRule",
    "Listener",
    "Namespace",
    "ObjectMeta",
    "ParentRef",
    "ReferenceGrant",
    "Resource",
    "Secret",
    "Service",
    "parse_resource",
]

CONTROLLER_NAME = "rollouts.dev/gateway-controller"
GATEWAY_GROUP = "gateway.networking.k8s.io"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, alias_generator=to_camel, frozen=True
    )


class ObjectMeta(_Model):
    name: str
    namespace: str = "default"
    generation: int = 0
    creation_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    resource_version: str | None = None
    uid: str | None = None


class _Object(_Model):
    api_version: str = ""
    kind: str = ""
    metadata: ObjectMeta

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name)."""
        return (self.metadata.namespace, self.metadata.name)


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


class LabelSelectorRequirement(_Model):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        """Kubernetes label-selector semantics (all terms ANDed)."""
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        for e in self.match_expressions:
            present = e.key in labels
            if e.operator == "In" and not (present and labels[e.key] in e.values):
                return False
            if e.operator == "NotIn" and present and labels[e.key] in e.values:
                return False
            if e.operator == "Exists" and not present:
                return False
            if e.operator == "DoesNotExist" and present:
                return False
        return True


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


# ---------------------------------------------------------------- Routes


class ParentRef(_Model):
    group: str = GATEWAY_GROUP
    kind: str = "Gateway"
    namespace: str | None = None
    name: str
    section_name: str | None = None
    port: int | None = None


class HeaderValue(_Model):
    name: str
    value: str


class HeaderModifier(_Model):
    set: list[HeaderValue] = Field(default_factory=list)
    add: list[HeaderValue] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class PathModifier(_Model):
    type: str
    replace_full_path: str | None = None
    replace_prefix_match: str | None = None


class RequestRedirect(_Model):
    scheme: str | None = None
    hostname: str | None = None
    path: PathModifier | None = None
    port: int | None = None
    status_code: int = 302


class URLRewrite(_Model):
    hostname: str | None = None
    path: PathModifier | None = None


class Fraction(_Model):
    numerator: int
    denominator: int = 100


class MirrorBackendRef(_Model):
    group: str = ""
    kind: str = "Service"
    name: str
    namespace: str | None = None
    port: int | None = None


class RequestMirror(_Model):
    backend_ref: MirrorBackendRef
    percent: int | None = None
    fraction: Fraction | None = None


class HTTPRouteFilter(_Model):
    type: str
    request_header_modifier: HeaderModifier | None = None
    response_header_modifier: HeaderModifier | None = None
    request_redirect: RequestRedirect | None = None
    url_rewrite: URLRewrite | None = None
    request_mirror: RequestMirror | None = None
    extension_ref: dict[str, Any] | None = None
    cors: dict[str, Any] | None = None


class BackendRef(_Model):
    group: str = ""
    kind: str = "Service"
    name: str
    namespace: str | None = None
    port: int | None = None
    weight: int = 1
    filters: list[HTTPRouteFilter] = Field(default_factory=list)


class PathMatch(_Model):
    type: str = "PathPrefix"
    value: str = "/"


class NameValueMatch(_Model):
    type: str = "Exact"
    name: str
    value: str


class HTTPRouteMatch(_Model):
    path: PathMatch | None = Field(default_factory=PathMatch)
    headers: list[NameValueMatch] = Field(default_factory=list)
    query_params: list[NameValueMatch] = Field(default_factory=list)
    method: str | None = None


class RouteTimeouts(_Model):
    request: str | None = None
    backend_request: str | None = None


def _default_matches() -> list[HTTPRouteMatch]:
    return [HTTPRouteMatch()]


class HTTPRouteRule(_Model):
    name: str | None = None
    matches: list[HTTPRouteMatch] = Field(default_factory=_default_matches)
    filters: list[HTTPRouteFilter] = Field(default_factory=list)
    backend_refs: list[BackendRef] = Field(default_factory=list)
    timeouts: RouteTimeouts | None = None


def _default_rules() -> list[HTTPRouteRule]:
    return [HTTPRouteRule()]


class HTTPRouteSpec(_Model):
    parent_refs: list[ParentRef] = Field(default_factory=list)
    hostnames: list[str] = Field(default_factory=list)
    rules: list[HTTPRouteRule] = Field(default_factory=_default_rules)


class HTTPRoute(_Object):
    spec: HTTPRouteSpec = Field(default_factory=HTTPRouteSpec)
    #: kept verbatim: other controllers' parent entries must be written back untouched
    status: dict[str, Any] | None = None


class GRPCMethodMatch(_Model):
    type: str = "Exact"
    service: str | None = None
    method: str | None = None


class GRPCRouteMatch(_Model):
    method: GRPCMethodMatch | None = None
    headers: list[NameValueMatch] = Field(default_factory=list)


class GRPCRouteRule(_Model):
    name: str | None = None
    matches: list[GRPCRouteMatch] = Field(default_factory=list)
    filters: list[HTTPRouteFilter] = Field(default_factory=list)
    backend_refs: list[BackendRef] = Field(default_factory=list)


class GRPCRouteSpec(_Model):
    parent_refs: list[ParentRef] = Field(default_factory=list)
    hostnames: list[str] = Field(default_factory=list)
    rules: list[GRPCRouteRule] = Field(default_factory=list)


class GRPCRoute(_Object):
    spec: GRPCRouteSpec = Field(default_factory=GRPCRouteSpec)
    status: dict[str, Any] | None = None


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


Resource = (
    GatewayClass
    | Gateway
    | HTTPRoute
    | GRPCRoute
    | ReferenceGrant
    | Service
    | EndpointSlice
    | Secret
    | Namespace
)

_KINDS: dict[str, type[_Object]] = {
    "GatewayClass": GatewayClass,
    "Gateway": Gateway,
    "HTTPRoute": HTTPRoute,
    "GRPCRoute": GRPCRoute,
    "ReferenceGrant": ReferenceGrant,
    "Service": Service,
    "EndpointSlice": EndpointSlice,
    "Secret": Secret,
    "Namespace": Namespace,
}


def parse_resource(obj: dict[str, Any]) -> Resource | None:
    """Parse one manifest; None for kinds the gateway does not read.

    Raises pydantic.ValidationError (which names the field) on a malformed object.
    """
    cls = _KINDS.get(str(obj.get("kind", "")))
    if cls is None:
        return None
    return cls.model_validate(obj)  # type: ignore[return-value]
