"""Pydantic models of the Gateway API subset the data plane reads.

Why this exists: the gateway compiles GatewayClass, Gateway, HTTPRoute, GRPCRoute,
ReferenceGrant, Service, EndpointSlice and Secret objects into a routing table. These
models give that compiler typed, defaulted input. They are deliberately lenient
(``extra="ignore"``): the upstream CRD schema is the validator, and a newer field we do
not know yet must never stop a gateway from loading its config. Defaults follow the
upstream CRDs (gateway.networking.k8s.io v1, standard channel v1.6.1).

This module is the one import path for all of them. The models themselves live in:

- ``gatewayapi_meta``: the shared base, ``ObjectMeta`` and label selectors;
- ``gatewayapi_gateways``: GatewayClass, Gateway and its listeners;
- ``gatewayapi_routes``: HTTPRoute and GRPCRoute;
- ``gatewayapi_core``: ReferenceGrant, Service, EndpointSlice, Namespace and Secret.

What stays here is :data:`Resource` and :func:`parse_resource`, which tie the kinds
together.
"""

from __future__ import annotations

from typing import Any

from rollouts.api.gatewayapi_core import (
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Namespace,
    ReferenceGrant,
    ReferenceGrantFrom,
    ReferenceGrantSpec,
    ReferenceGrantTo,
    Secret,
    Service,
    ServicePort,
    ServiceSpec,
)
from rollouts.api.gatewayapi_gateways import (
    AllowedRoutes,
    Gateway,
    GatewayAddress,
    GatewayClass,
    GatewayClassSpec,
    GatewaySpec,
    Listener,
    ListenerTLS,
    ParametersRef,
    RouteGroupKind,
    RouteNamespaces,
    SecretObjectReference,
)
from rollouts.api.gatewayapi_meta import (
    CONTROLLER_NAME,
    GATEWAY_GROUP,
    LabelSelector,
    LabelSelectorRequirement,
    ObjectMeta,
    _Object,
)
from rollouts.api.gatewayapi_routes import (
    BackendRef,
    Fraction,
    GRPCMethodMatch,
    GRPCRoute,
    GRPCRouteMatch,
    GRPCRouteRule,
    GRPCRouteSpec,
    HeaderModifier,
    HeaderValue,
    HTTPRoute,
    HTTPRouteFilter,
    HTTPRouteMatch,
    HTTPRouteRule,
    HTTPRouteSpec,
    MirrorBackendRef,
    NameValueMatch,
    ParentRef,
    PathMatch,
    PathModifier,
    RequestMirror,
    RequestRedirect,
    RouteTimeouts,
    URLRewrite,
)

__all__ = [
    "CONTROLLER_NAME",
    "GATEWAY_GROUP",
    "AllowedRoutes",
    "BackendRef",
    "Endpoint",
    "EndpointConditions",
    "EndpointPort",
    "EndpointSlice",
    "Fraction",
    "GRPCMethodMatch",
    "GRPCRoute",
    "GRPCRouteMatch",
    "GRPCRouteRule",
    "GRPCRouteSpec",
    "Gateway",
    "GatewayAddress",
    "GatewayClass",
    "GatewayClassSpec",
    "GatewaySpec",
    "HTTPRoute",
    "HTTPRouteFilter",
    "HTTPRouteMatch",
    "HTTPRouteRule",
    "HTTPRouteSpec",
    "HeaderModifier",
    "HeaderValue",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Listener",
    "ListenerTLS",
    "MirrorBackendRef",
    "NameValueMatch",
    "Namespace",
    "ObjectMeta",
    "ParametersRef",
    "ParentRef",
    "PathMatch",
    "PathModifier",
    "ReferenceGrant",
    "ReferenceGrantFrom",
    "ReferenceGrantSpec",
    "ReferenceGrantTo",
    "RequestMirror",
    "RequestRedirect",
    "Resource",
    "RouteGroupKind",
    "RouteNamespaces",
    "RouteTimeouts",
    "Secret",
    "SecretObjectReference",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "URLRewrite",
    "parse_resource",
]


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
