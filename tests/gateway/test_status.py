"""Pure status computation and compile-time validation (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api.gatewayapi import CONTROLLER_NAME
from rollouts.gateway.attach import resolve
from rollouts.gateway.compile import RuleError, compile_snapshot, parse_duration
from rollouts.gateway.hostnames import intersect
from rollouts.gateway.snapshot import build_snapshot
from rollouts.gateway.status import (
    SUPPORTED_FEATURES,
    gateway_class_status,
    gateway_status,
    route_status,
)

from .conftest import backend, gateway, gateway_class, listener, route, service

NOW = "2026-01-01T00:00:00Z"


def conds(items: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in items}


def statuses(objs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    snap = build_snapshot(objs)
    _, res = compile_snapshot(snap)
    gws = {f"{k[0]}/{k[1]}": gateway_status(g, NOW, []) for k, g in res.gateways.items()}
    routes = {i.label: route_status(i, NOW, i.route.status) for i in res.routes}
    return gws, routes


def base(listeners: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    gw = gateway("gw", listeners or [listener("http", 80)])
    return [gateway_class(), gw, *service("svc", [8080])]


def test_gateway_class_status_and_supported_features() -> None:
    snap = build_snapshot([gateway_class(), gateway_class("other", "example.com/other")])
    st = gateway_class_status(snap.gateway_classes["rollouts"], NOW)
    assert st is not None
    assert conds(st["conditions"]) == {"Accepted": ("True", "Accepted")}
    names = [f["name"] for f in st["supportedFeatures"]]
    assert names == sorted(names) == list(SUPPORTED_FEATURES)
    assert gateway_class_status(snap.gateway_classes["other"], NOW) is None


def test_gateway_and_listener_status() -> None:
    objs = [*base([
        listener("ok", 80),
        listener("dup1", 81, "a.example.com"), listener("dup2", 81, "a.example.com"),
        listener("tcp", 82, protocol="TCP"),
        listener("kinds", 83, allowedRoutes={"kinds": [{"kind": "TCPRoute"}]}),
        listener("tls", 443, protocol="HTTPS",
                 tls={"certificateRefs": [{"name": "missing"}]}),
    ]), route("r", [{"backendRefs": [backend("svc")]}], parents=[{"name": "gw"}])]  # fmt: skip
    gws, _ = statuses(objs)
    st = gws["default/gw"]
    assert conds(st["conditions"]) == {"Accepted": ("True", "Accepted"),
                                       "Programmed": ("True", "Programmed")}  # fmt: skip
    ls = {x["name"]: x for x in st["listeners"]}
    assert conds(ls["ok"]["conditions"]) == {
        "Accepted": ("True", "Accepted"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
        "Conflicted": ("False", "NoConflicts"),
        "Programmed": ("True", "Programmed"),
    }
    assert ls["ok"]["attachedRoutes"] == 1
    assert ls["ok"]["supportedKinds"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"},
        {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"},
    ]
    assert conds(ls["dup1"]["conditions"])["Conflicted"] == ("True", "HostnameConflict")
    assert conds(ls["tcp"]["conditions"])["Accepted"] == ("False", "UnsupportedProtocol")
    assert conds(ls["kinds"]["conditions"])["ResolvedRefs"] == ("False", "InvalidRouteKinds")
    assert ls["kinds"]["supportedKinds"] == []
    assert conds(ls["tls"]["conditions"])["ResolvedRefs"] == ("False", "InvalidCertificateRef")
    assert all(c["observedGeneration"] == 1 for c in st["conditions"])


@pytest.mark.parametrize(("listeners", "parent", "hostnames", "ns", "reason"), [
    ([listener("l", 80)], {"name": "gw", "sectionName": "nope"}, None, "default",
     "NoMatchingParent"),
    ([listener("l", 80)], {"name": "gw", "port": 81}, None, "default", "NoMatchingParent"),
    ([listener("l", 80)], {"name": "gw", "namespace": "default"}, None, "team",
     "NotAllowedByListeners"),
    ([listener("l", 80, "a.example.com")], {"name": "gw"}, ["b.example.com"], "default",
     "NoMatchingListenerHostname"),
    ([listener("l", 80, "*.example.com")], {"name": "gw"}, ["example.com"], "default",
     "NoMatchingListenerHostname"),
])  # fmt: skip
def test_route_not_accepted_reasons(listeners: list[dict[str, Any]], parent: dict[str, Any],
                                    hostnames: list[str] | None, ns: str, reason: str
                                    ) -> None:  # fmt: skip
    objs = [*base(listeners), route("r", [{"backendRefs": [backend("svc")]}],
                                    hostnames=hostnames, parents=[parent], ns=ns)]  # fmt: skip
    _, routes = statuses(objs)
    (entry,) = routes[f"{ns}/r"]["parents"]
    assert entry["controllerName"] == CONTROLLER_NAME
    assert conds(entry["conditions"])["Accepted"] == ("False", reason)


def test_allowed_routes_all_and_selector() -> None:
    ns_obj = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "team", "labels": {"gw-access": "yes"}}}  # fmt: skip
    sel = {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"gw-access": "yes"}}}}
    objs = [*base([listener("all", 80, allowedRoutes={"namespaces": {"from": "All"}}),
                   listener("sel", 81, allowedRoutes=sel)]), ns_obj]  # fmt: skip
    objs += [
        route("r1", [{}], ns="team", parents=[{"name": "gw", "namespace": "default",
                                               "sectionName": "sel"}]),
        route("r2", [{}], ns="nolabel", parents=[{"name": "gw", "namespace": "default",
                                                  "sectionName": "sel"}]),
        route("r3", [{}], ns="nolabel", parents=[{"name": "gw", "namespace": "default",
                                                  "sectionName": "all"}]),
    ]  # fmt: skip
    _, routes = statuses(objs)
    acc = {k: conds(v["parents"][0]["conditions"])["Accepted"][0] for k, v in routes.items()}
    assert acc == {"team/r1": "True", "nolabel/r2": "False", "nolabel/r3": "True"}


@pytest.mark.parametrize(("ref", "reason"), [
    (backend("missing"), "BackendNotFound"),
    (backend("svc", port=9999), "BackendNotFound"),
    ({"group": "example.com", "kind": "Thing", "name": "x"}, "InvalidKind"),
    (backend("svc", namespace="elsewhere"), "RefNotPermitted"),
])  # fmt: skip
def test_resolved_refs_reasons(ref: dict[str, Any], reason: str) -> None:
    objs = [*base(), route("r", [{"backendRefs": [ref]}])]
    _, routes = statuses(objs)
    c = conds(routes["default/r"]["parents"][0]["conditions"])
    assert c["Accepted"] == ("True", "Accepted")
    assert c["ResolvedRefs"] == ("False", reason)


def test_other_controllers_entries_kept_and_transition_time_kept() -> None:
    other = {"parentRef": {"name": "theirs"}, "controllerName": "example.com/other",
             "conditions": [{"type": "Accepted", "status": "True"}]}  # fmt: skip
    mine_old = {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                              "name": "gw", "namespace": "default"},
                "controllerName": CONTROLLER_NAME,
                "conditions": [{"type": "Accepted", "status": "True",
                                "lastTransitionTime": "2020-01-01T00:00:00Z"}]}  # fmt: skip
    r = route("r", [{"backendRefs": [backend("svc")]}], generation=7,
              parents=[{"name": "gw"}, {"name": "theirs"}])  # fmt: skip
    r["status"] = {"parents": [other, mine_old]}
    _, routes = statuses([*base(), r])
    parents = routes["default/r"]["parents"]
    assert parents[0] == other
    mine = parents[1]
    acc = next(c for c in mine["conditions"] if c["type"] == "Accepted")
    assert acc["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert acc["observedGeneration"] == 7
    res = next(c for c in mine["conditions"] if c["type"] == "ResolvedRefs")
    assert res["lastTransitionTime"] == NOW


def test_unsupported_rules_partially_invalid_then_rejected() -> None:
    bad = {"filters": [{"type": "ExtensionRef", "extensionRef": {"name": "x"}}]}
    good = {"backendRefs": [backend("svc")]}
    _, routes = statuses([*base(), route("r", [good, bad])])
    c = conds(routes["default/r"]["parents"][0]["conditions"])
    assert c["Accepted"] == ("True", "Accepted")
    assert c["PartiallyInvalid"] == ("True", "UnsupportedValue")
    prefix_rewrite_on_exact = {
        "matches": [{"path": {"type": "Exact", "value": "/x"}}],
        "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {
            "type": "ReplacePrefixMatch", "replacePrefixMatch": "/y"}}}],
        "backendRefs": [backend("svc")]}  # fmt: skip
    _, routes = statuses([*base(), route("r", [bad, prefix_rewrite_on_exact])])
    c = conds(routes["default/r"]["parents"][0]["conditions"])
    assert c["Accepted"] == ("False", "UnsupportedValue")


def test_routes_of_foreign_gateways_are_ignored() -> None:
    objs = [*base(), gateway_class("other", "example.com/other"),
            gateway("foreign", [listener("l", 80)], cls="other"),
            route("r", [{}], parents=[{"name": "foreign"}])]  # fmt: skip
    res = resolve(build_snapshot(objs))
    assert res.routes == []
    assert list(res.gateways) == [("default", "gw")]


def test_intersection_and_durations() -> None:
    assert intersect("*.example.com", "a.example.com") == "a.example.com"
    assert intersect("a.example.com", "*.example.com") == "a.example.com"
    assert intersect("*.example.com", "*.a.example.com") == "*.a.example.com"
    assert intersect("*.example.com", "example.com") is None
    assert intersect(None, "x.org") == "x.org"
    assert parse_duration("1h2m3s") == 3723
    assert parse_duration("250ms") == 0.25
    assert parse_duration("0s") is None
    with pytest.raises(RuleError):
        parse_duration("3 days")


def test_malformed_object_is_reported_not_fatal() -> None:
    snap = build_snapshot([*base(), {"kind": "HTTPRoute", "metadata": {"name": "bad"},
                                     "spec": {"rules": "not-a-list"}}])  # fmt: skip
    assert len(snap.errors) == 1
    assert "HTTPRoute/bad" in snap.errors[0] and "rules" in snap.errors[0]
    assert ("default", "gw") in snap.gateways


def test_grpc_route_methods_compile_to_paths() -> None:
    g = route("g", [
        {"matches": [{"method": {"service": "pkg.Greeter", "method": "SayHello"}}],
         "backendRefs": [backend("svc")]},
        {"matches": [{"method": {"service": "pkg.Other"}}], "backendRefs": [backend("svc")]},
        {"matches": [{"method": {"type": "RegularExpression", "service": "pkg\\..*",
                                 "method": "Get.*"}}], "backendRefs": [backend("svc")]},
    ], kind="GRPCRoute")  # fmt: skip
    table, res = compile_snapshot(build_snapshot([*base(), g]))
    assert res.routes[0].rule_errors == {}
    lt = table.ports[80].catch_all
    assert lt is not None
    post, get = b"POST", b"GET"

    def rule(path: str, method: bytes = post) -> str | None:
        m = lt.find("h", path, method, {}, None)
        return m.action.rule if m else None

    assert rule("/pkg.Greeter/SayHello") == "0"
    assert rule("/pkg.Greeter/SayHello", get) is None  # gRPC is always POST
    assert rule("/pkg.Other/Anything") == "1"
    assert rule("/pkg.Third/GetThing") == "2"
    assert rule("/pkg.Third/PutThing") is None


@pytest.mark.parametrize(("to", "allowed"), [
    ({"group": "", "kind": "Service", "name": "svc"}, True),
    ({"group": "", "kind": "Service", "name": "other"}, False),
    ({"group": "", "kind": "Secret"}, False),
])  # fmt: skip
def test_reference_grant_to_name_and_kind(to: dict[str, Any], allowed: bool) -> None:
    grant = {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
             "metadata": {"name": "g", "namespace": "other"},
             "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                "namespace": "default"}], "to": [to]}}  # fmt: skip
    objs = [gateway_class(), gateway("gw", [listener("http", 80)]),
            *service("svc", [8080], ns="other"), grant,
            route("r", [{"backendRefs": [backend("svc", namespace="other")]}])]  # fmt: skip
    _, routes = statuses(objs)
    c = conds(routes["default/r"]["parents"][0]["conditions"])
    assert c["ResolvedRefs"] == (("True", "ResolvedRefs") if allowed
                                 else ("False", "RefNotPermitted"))  # fmt: skip
