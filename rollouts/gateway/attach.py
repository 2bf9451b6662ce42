"""Pure resolution of a snapshot: which listeners are valid, which routes attach where,
what every backendRef resolves to, and why not.

Why this exists: the routing table and the status we write are two views of the same
decisions. Computing those decisions once, here, with reasons, keeps what we serve and
what we report from ever disagreeing. No I/O and no clock.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from rollouts.api.gatewayapi import (
    CONTROLLER_NAME,
    GATEWAY_GROUP,
    BackendRef,
    Gateway,
    GRPCRoute,
    HTTPRoute,
    Listener,
    MirrorBackendRef,
    ParentRef,
)
from rollouts.gateway.hostnames import intersect
from rollouts.gateway.snapshot import Snapshot

__all__ = [
    "SUPPORTED_KINDS",
    "Cond",
    "GatewayInfo",
    "ListenerInfo",
    "ParentResult",
    "Resolution",
    "ResolvedBackend",
    "RouteInfo",
    "resolve",
    "resolve_backend",
]

SUPPORTED_KINDS: dict[str, tuple[str, ...]] = {
    "HTTP": ("HTTPRoute", "GRPCRoute"),
    "HTTPS": ("HTTPRoute", "GRPCRoute"),
}
Key = tuple[str, str]
_H2_PROTOCOLS = ("kubernetes.io/h2c", "h2c", "grpc")


@dataclass(frozen=True)
class Cond:
    """One condition before formatting: status, reason, message."""

    status: bool
    reason: str
    message: str = ""


@dataclass
class ListenerInfo:
    gateway: Key
    listener: Listener
    conditions: dict[str, Cond] = field(default_factory=dict)
    supported_kinds: tuple[str, ...] = ()
    attached_routes: int = 0
    cert: tuple[bytes, bytes] | None = None  # (PEM chain, PEM key) for HTTPS

    @property
    def valid(self) -> bool:
        c = self.conditions
        return c["Accepted"].status and c["ResolvedRefs"].status and not c["Conflicted"].status


@dataclass
class GatewayInfo:
    gateway: Gateway
    listeners: list[ListenerInfo]
    conditions: dict[str, Cond] = field(default_factory=dict)


@dataclass
class ResolvedBackend:
    label: str  # namespace/name
    weight: int
    status: int  # 0 usable, 500 invalid, 503 no ready endpoints
    endpoints: list[tuple[str, int]]
    reason: str = ""
    message: str = ""
    h2: bool = False  # speak h2c to it (GRPCRoute, or the Service port's appProtocol)


@dataclass
class ParentResult:
    parent_ref: ParentRef
    accepted: Cond
    listeners: list[tuple[ListenerInfo, list[str | None]]] = field(default_factory=list)


@dataclass
class RouteInfo:
    kind: str
    route: HTTPRoute | GRPCRoute
    parents: list[ParentResult] = field(default_factory=list)
    rule_errors: dict[int, str] = field(default_factory=dict)
    backends: list[list[ResolvedBackend]] = field(default_factory=list)
    resolved_refs: Cond = Cond(True, "ResolvedRefs")

    @property
    def label(self) -> str:
        return f"{self.route.metadata.namespace}/{self.route.metadata.name}"


@dataclass
class Resolution:
    gateways: dict[Key, GatewayInfo]
    routes: list[RouteInfo]


def _granted(
    snap: Snapshot, from_kind: str, from_ns: str, to_group: str, to_kind: str, ns: str, name: str
) -> bool:
    return any(
        g.permits(GATEWAY_GROUP, from_kind, from_ns, to_group, to_kind, name)
        for (gns, _), g in snap.reference_grants.items()
        if gns == ns
    )


def resolve_backend(
    snap: Snapshot, route_kind: str, route_ns: str, ref: BackendRef | MirrorBackendRef
) -> ResolvedBackend:
    """Resolve one backendRef to endpoints, or to the 500/503 it must answer with."""
    ns = ref.namespace or route_ns
    label = f"{ns}/{ref.name}"
    weight = ref.weight if isinstance(ref, BackendRef) else 1
    if ref.group not in ("", "core") or ref.kind != "Service":
        return ResolvedBackend(label, weight, 500, [], "InvalidKind",
                               f"unsupported backend kind {ref.group}/{ref.kind}")  # fmt: skip
    if ns != route_ns and not _granted(snap, route_kind, route_ns, "", "Service", ns, ref.name):
        return ResolvedBackend(label, weight, 500, [], "RefNotPermitted",
                               f"no ReferenceGrant in {ns} allows {route_kind}s "
                               f"from {route_ns} to Service {ref.name}")  # fmt: skip
    svc = snap.services.get((ns, ref.name))
    if svc is None:
        return ResolvedBackend(label, weight, 500, [], "BackendNotFound",
                               f"Service {label} not found")  # fmt: skip
    sport = next((p for p in svc.spec.ports if p.port == ref.port), None)
    if sport is None:
        return ResolvedBackend(label, weight, 500, [], "BackendNotFound",
                               f"Service {label} has no port {ref.port}")  # fmt: skip
    eps: list[tuple[str, int]] = []
    for sl in snap.slices_for(ns, ref.name):
        port: int | None = None
        for p in sl.ports:
            if (p.name or "") == (sport.name or ""):
                port = p.port
        if port is None and isinstance(sport.target_port, int):
            port = sport.target_port
        if port is None:
            continue
        for ep in sl.endpoints:
            if ep.conditions.ready is False:
                continue
            eps.extend((a, port) for a in ep.addresses)
    label = f"{label}:{sport.port}" if len(svc.spec.ports) > 1 else label
    h2 = route_kind == "GRPCRoute" or sport.app_protocol in _H2_PROTOCOLS
    return ResolvedBackend(label, weight, 0 if eps else 503, sorted(set(eps)), h2=h2)


def _listener_info(snap: Snapshot, gw: Gateway, lis: Listener) -> ListenerInfo:
    li = ListenerInfo(gateway=gw.key, listener=lis)
    ok = Cond(True, "Accepted")
    resolved = Cond(True, "ResolvedRefs")
    kinds: tuple[str, ...] = SUPPORTED_KINDS.get(lis.protocol, ())
    if lis.protocol not in SUPPORTED_KINDS:
        ok = Cond(False, "UnsupportedProtocol", f"protocol {lis.protocol} is not supported")
        kinds = ()
    elif lis.allowed_routes.kinds:
        wanted = [k for k in lis.allowed_routes.kinds if k.group == GATEWAY_GROUP]
        good = tuple(k.kind for k in wanted if k.kind in kinds)
        if len(good) != len(lis.allowed_routes.kinds):
            resolved = Cond(False, "InvalidRouteKinds", "only HTTPRoute and GRPCRoute supported")
        kinds = good
    li.supported_kinds = kinds
    if lis.protocol == "HTTPS" and ok.status:
        resolved, li.cert = _certificate(snap, gw, lis, resolved)
    li.conditions = {
        "Accepted": ok,
        "ResolvedRefs": resolved,
        "Conflicted": Cond(False, "NoConflicts"),
    }
    return li


def _certificate(
    snap: Snapshot, gw: Gateway, lis: Listener, resolved: Cond
) -> tuple[Cond, tuple[bytes, bytes] | None]:
    if lis.tls is None or not lis.tls.certificate_refs:
        return Cond(False, "InvalidCertificateRef", "HTTPS listener without certificateRefs"), None
    if lis.tls.mode != "Terminate":
        return Cond(False, "UnsupportedValue", "only TLS mode Terminate is supported"), None
    ref = lis.tls.certificate_refs[0]
    ns = ref.namespace or gw.metadata.namespace
    if ref.group not in ("", "core") or ref.kind != "Secret":
        return Cond(False, "InvalidCertificateRef", f"unsupported kind {ref.kind}"), None
    if ns != gw.metadata.namespace and not _granted(
        snap, "Gateway", gw.metadata.namespace, "", "Secret", ns, ref.name
    ):
        return Cond(False, "RefNotPermitted", f"Secret {ns}/{ref.name} not granted"), None
    sec = snap.secrets.get((ns, ref.name))
    if sec is None:
        return Cond(False, "InvalidCertificateRef", f"Secret {ns}/{ref.name} not found"), None
    crt, key = (
        _secret_field(sec.data, sec.string_data, "tls.crt"),
        _secret_field(sec.data, sec.string_data, "tls.key"),
    )
    if not crt or not key or b"BEGIN" not in crt or b"BEGIN" not in key:
        return Cond(False, "InvalidCertificateRef", f"Secret {ns}/{ref.name} has no PEM pair"), None
    return resolved, (crt, key)


def _secret_field(data: dict[str, str], string_data: dict[str, str], name: str) -> bytes | None:
    if name in string_data:
        return string_data[name].encode()
    if name in data:
        try:
            return base64.b64decode(data[name])
        except ValueError:
            return None
    return None


def _mark_conflicts(listeners: list[ListenerInfo]) -> None:
    by_port: dict[int, list[ListenerInfo]] = {}
    for li in listeners:
        by_port.setdefault(li.listener.port, []).append(li)
    for group in by_port.values():
        protocols = {li.listener.protocol for li in group}
        if len(protocols) > 1:
            for li in group:
                li.conditions["Conflicted"] = Cond(
                    True, "ProtocolConflict", "listeners on one port differ in protocol"
                )
            continue
        seen: dict[str | None, int] = {}
        for li in group:
            seen[li.listener.hostname] = seen.get(li.listener.hostname, 0) + 1
        for li in group:
            if seen[li.listener.hostname] > 1:
                li.conditions["Conflicted"] = Cond(
                    True, "HostnameConflict", "listeners share port and hostname"
                )


def _allowed(snap: Snapshot, li: ListenerInfo, kind: str, route_ns: str) -> bool:
    if kind not in li.supported_kinds:
        return False
    ns_rule = li.listener.allowed_routes.namespaces
    if ns_rule.from_ == "All":
        return True
    if ns_rule.from_ == "Same":
        return route_ns == li.gateway[0]
    if ns_rule.from_ == "Selector" and ns_rule.selector is not None:
        return ns_rule.selector.matches(snap.namespace_labels(route_ns))
    return False


def _attach(
    snap: Snapshot, gw: GatewayInfo, kind: str, route: HTTPRoute | GRPCRoute, pref: ParentRef
) -> ParentResult:
    cands = [
        li for li in gw.listeners
        if (pref.section_name is None or li.listener.name == pref.section_name)
        and (pref.port is None or li.listener.port == pref.port)
    ]  # fmt: skip
    if not cands:
        return ParentResult(pref, Cond(False, "NoMatchingParent", "no listener matches parentRef"))
    cands = [li for li in cands if li.valid]
    if not cands:
        return ParentResult(pref, Cond(False, "NoMatchingParent", "the listener is not valid"))
    allowed = [li for li in cands if _allowed(snap, li, kind, route.metadata.namespace)]
    if not allowed:
        return ParentResult(
            pref, Cond(False, "NotAllowedByListeners", "listeners do not allow this route")
        )
    res = ParentResult(pref, Cond(True, "Accepted"))
    for li in allowed:
        hosts: list[str | None]
        if not route.spec.hostnames:
            hosts = [li.listener.hostname]
        else:
            found = {intersect(li.listener.hostname, h.lower()) for h in route.spec.hostnames}
            hosts = list(sorted(x for x in found if x is not None))
        if hosts:
            res.listeners.append((li, hosts))
            li.attached_routes += 1
    if not res.listeners:
        res.accepted = Cond(False, "NoMatchingListenerHostname", "no listener hostname matches")
    return res


def resolve(snap: Snapshot) -> Resolution:
    """Decide listener validity, attachment and backend resolution for our classes."""
    ours = {n for n, gc in snap.gateway_classes.items()
                  if gc.spec.controller_name == CONTROLLER_NAME}  # fmt: skip
    gateways: dict[Key, GatewayInfo] = {}
    for key, gw in sorted(snap.gateways.items()):
        if gw.spec.gateway_class_name not in ours:
            continue
        lis = [_listener_info(snap, gw, lis) for lis in gw.spec.listeners]
        _mark_conflicts(lis)
        gi = GatewayInfo(gw, lis)
        if lis and not any(li.valid for li in lis):
            gi.conditions["Accepted"] = Cond(False, "ListenersNotValid", "no valid listener")
        else:
            gi.conditions["Accepted"] = Cond(True, "Accepted")
        gi.conditions["Programmed"] = Cond(gi.conditions["Accepted"].status,
                                           "Programmed" if gi.conditions["Accepted"].status
                                           else "Invalid")  # fmt: skip
        gateways[key] = gi
    routes: list[RouteInfo] = []
    all_routes: list[tuple[str, HTTPRoute | GRPCRoute]] = [
        ("HTTPRoute", r) for _, r in sorted(snap.http_routes.items())
    ] + [("GRPCRoute", r) for _, r in sorted(snap.grpc_routes.items())]
    for kind, route in all_routes:
        info = RouteInfo(kind, route)
        for pref in route.spec.parent_refs:
            if pref.group != GATEWAY_GROUP or pref.kind != "Gateway":
                continue
            parent = gateways.get((pref.namespace or route.metadata.namespace, pref.name))
            if parent is None:
                continue  # not a parent of ours: never write its status
            info.parents.append(_attach(snap, parent, kind, route, pref))
        if not info.parents:
            continue
        for rule in route.spec.rules:
            rbs = [resolve_backend(snap, kind, route.metadata.namespace, b)
                   for b in rule.backend_refs]  # fmt: skip
            info.backends.append(rbs)
            bad = next((b for b in rbs if b.status == 500), None)
            if bad is not None and info.resolved_refs.status:
                info.resolved_refs = Cond(False, bad.reason, bad.message)
        routes.append(info)
    return Resolution(gateways, routes)
