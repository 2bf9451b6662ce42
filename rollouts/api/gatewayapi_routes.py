"""Gateway API models of HTTPRoute and GRPCRoute: parents, matches, filters, backends.

Why this exists: routes are the bulk of what the gateway compiles into its routing
table and the part of the Gateway API that grows fastest upstream (new filters, match
kinds, timeouts). They are split out of ``rollouts.api.gatewayapi``, which re-exports
every name, to keep each model module small; import them from
``rollouts.api.gatewayapi``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rollouts.api.gatewayapi_meta import GATEWAY_GROUP, _Model, _Object

__all__ = [
    "BackendRef",
    "Fraction",
    "GRPCMethodMatch",
    "GRPCRoute",
    "GRPCRouteMatch",
    "GRPCRouteRule",
    "GRPCRouteSpec",
    "HTTPRoute",
    "HTTPRouteFilter",
    "HTTPRouteMatch",
    "HTTPRouteRule",
    "HTTPRouteSpec",
    "HeaderModifier",
    "HeaderValue",
    "MirrorBackendRef",
    "NameValueMatch",
    "ParentRef",
    "PathMatch",
    "PathModifier",
    "RequestMirror",
    "RequestRedirect",
    "RouteTimeouts",
    "URLRewrite",
]


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
