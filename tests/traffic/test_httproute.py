"""Writing a canary into a user's HTTPRoute touches only what the Rollout owns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollouts.api.rollout import HeaderRoutingMatch, MirrorRouteMatch, StringMatch
from rollouts.traffic.httproute import (
    RouteError,
    canary_share,
    managed_rule_names,
    with_header_route,
    with_mirror_route,
    with_weights,
)

ROUTE: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "web", "namespace": "shop", "annotations": {"team": "a"}},
    "spec": {
        "parentRefs": [{"name": "gw"}],
        "hostnames": ["shop.example.com"],
        "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
             "backendRefs": [{"name": "cdn", "port": 80}]},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
             "filters": [{"type": "RequestHeaderModifier",
                          "requestHeaderModifier": {"add": [{"name": "x-shop", "value": "1"}]}}],
             "backendRefs": [{"name": "web-stable", "port": 8080, "weight": 100},
                             {"name": "web-canary", "port": 8080, "weight": 0}]},
        ],
    },
}


def test_weights_are_exact_integers_in_gateway_api_range() -> None:
    route = with_weights(ROUTE, "web-canary", "web-stable", 0.005)
    refs = route["spec"]["rules"][1]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [("web-stable", 995_000),
                                                        ("web-canary", 5_000)]
    assert canary_share(route, "web-canary", "web-stable") == pytest.approx(0.005)


def test_everything_else_in_the_route_is_left_untouched() -> None:
    original = copy.deepcopy(ROUTE)
    route = with_weights(ROUTE, "web-canary", "web-stable", 0.5)
    assert original == ROUTE, "the input is not mutated"
    assert route["metadata"] == ROUTE["metadata"]
    assert route["spec"]["rules"][0] == ROUTE["spec"]["rules"][0]
    assert route["spec"]["rules"][1]["filters"] == ROUTE["spec"]["rules"][1]["filters"]
    assert route["spec"]["hostnames"] == ROUTE["spec"]["hostnames"]


def test_a_rule_with_only_one_of_the_services_is_a_clear_error() -> None:
    broken = copy.deepcopy(ROUTE)
    broken["spec"]["rules"][1]["backendRefs"].pop()
    with pytest.raises(RouteError, match=r"HTTPRoute shop/web: rule 1 has a backendRef to "
                                         r"web-stable but none to web-canary"):
        with_weights(broken, "web-canary", "web-stable", 0.1)


def test_a_route_without_the_services_is_a_clear_error() -> None:
    with pytest.raises(RouteError, match="no rule has backendRefs to both other-stable"):
        with_weights(ROUTE, "other-canary", "other-stable", 0.1)


def test_header_route_adds_a_named_rule_first_and_removes_it() -> None:
    match = [HeaderRoutingMatch(header_name="X-Beta", header_value=StringMatch(prefix="yes"))]
    route = with_header_route(ROUTE, "beta", match, "web-canary", "web-stable", ["beta"])
    first = route["spec"]["rules"][0]
    assert first["name"] == "rollouts-managed-beta"
    assert first["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}, "headers": [
        {"name": "X-Beta", "type": "RegularExpression", "value": "^yes.*"}]}]
    assert first["backendRefs"] == [{"name": "web-canary", "port": 8080, "weight": 1}]
    assert first["filters"] == ROUTE["spec"]["rules"][1]["filters"]
    assert route["spec"]["rules"][1:] == ROUTE["spec"]["rules"]
    assert managed_rule_names(route) == ["beta"]
    removed = with_header_route(route, "beta", [], "web-canary", "web-stable", ["beta"])
    assert removed == ROUTE


def test_weights_follow_into_mirror_rules_and_mirror_carries_percent() -> None:
    match = [MirrorRouteMatch(path=StringMatch(prefix="/api"), method=StringMatch(exact="get"))]
    route = with_mirror_route(ROUTE, "shadow", 20, match, "web-canary", "web-stable",
                              ["beta", "shadow"])
    rule = route["spec"]["rules"][0]
    assert rule["name"] == "rollouts-managed-shadow"
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"},
                                "method": "GET"}]
    assert rule["filters"][-1] == {"type": "RequestMirror", "requestMirror": {
        "backendRef": {"name": "web-canary", "port": 8080}, "percent": 20}}
    weighted = with_weights(route, "web-canary", "web-stable", 0.3)
    assert [r["weight"] for r in weighted["spec"]["rules"][0]["backendRefs"]] == [700_000,
                                                                                  300_000]
    match_h = [HeaderRoutingMatch(header_name="X-A", header_value=StringMatch(exact="1"))]
    both = with_header_route(weighted, "beta", match_h, "web-canary", "web-stable",
                             ["beta", "shadow"])
    assert [r.get("name") for r in both["spec"]["rules"][:2]] == [
        "rollouts-managed-beta", "rollouts-managed-shadow"], "managedRoutes order"
    assert managed_rule_names(both) == ["beta", "shadow"]
