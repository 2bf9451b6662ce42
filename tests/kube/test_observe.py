"""Reading routes back: weights are trusted only once every parent accepted the route at
its current generation (as Flagger checks), and a route that cannot carry the canary
says why."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.kube.dataplane import DataPlane
from rollouts.kube.observe import _check_data_plane, parents_verdict, route_view
from tests.canary.support import make_rollout


def route(generation: int = 3, parents: list[dict[str, Any]] | None = None,
          weights: tuple[int, int] = (900_000, 100_000)) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "default", "generation": generation},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [
            {"name": "web-stable", "port": 80, "weight": weights[0]},
            {"name": "web-canary", "port": 80, "weight": weights[1]}]}]},
        "status": {"parents": parents or []},
    }


def accepted(generation: int, status: str = "True", name: str = "gw") -> dict[str, Any]:
    return {"parentRef": {"name": name}, "controllerName": "rollouts.dev/gateway-controller",
            "conditions": [{"type": "Accepted", "status": status, "reason": "Accepted",
                            "observedGeneration": generation, "message": "m"}]}


def test_accepted_at_current_generation_is_verified() -> None:
    assert parents_verdict(route(3, [accepted(3)])) == (True, "")


def test_stale_generation_is_not_verified() -> None:
    ok, why = parents_verdict(route(4, [accepted(3)]))
    assert not ok
    assert why == "parent gw has accepted generation 3, the route is at generation 4"


def test_no_controller_reporting_is_named() -> None:
    ok, why = parents_verdict(route(1, []))
    assert (ok, why) == (False, "no gateway controller has reported on it for parent gw")


def test_not_accepted_gives_the_reason() -> None:
    ok, why = parents_verdict(route(1, [accepted(1, "False")]))
    assert not ok and why.startswith("parent gw did not accept it: Accepted")
    assert why == "parent gw did not accept it: Accepted: m"


def test_another_parent_entry_does_not_count() -> None:
    ok, why = parents_verdict(route(1, [accepted(1, name="other")]))
    assert not ok
    assert why == "no gateway controller has reported on it for parent gw"


def test_a_route_without_parent_refs_is_never_verified() -> None:
    orphan = route(1, [accepted(1)])
    orphan["spec"]["parentRefs"] = []
    assert parents_verdict(orphan) == (False, "it has no parentRefs")


def test_route_view_reads_the_weight_in_set_weight_units() -> None:
    view = route_view(route(2, [accepted(2)]), "web", "default", "HTTPRoute", make_rollout())
    assert (view.canary_weight, view.verified) == (10.0, True)


def test_route_view_of_a_missing_route() -> None:
    view = route_view(None, "web", "default", "HTTPRoute", make_rollout())
    assert not view.exists and view.canary_weight is None
    assert not view.verified
    assert (view.kind, view.namespace, view.name) == ("HTTPRoute", "default", "web")


def test_route_view_keeps_the_kind_it_was_read_as() -> None:
    view = route_view(route(2, [accepted(2)]), "web", "default", "GRPCRoute", make_rollout())
    assert (view.kind, view.canary_weight, view.verified) == ("GRPCRoute", 10.0, True)


def test_route_without_the_canary_backend_explains() -> None:
    broken = route()
    broken["spec"]["rules"][0]["backendRefs"].pop()
    view = route_view(broken, "web", "default", "HTTPRoute", make_rollout())
    assert view.canary_weight is None
    assert "has a backendRef to web-stable but none to web-canary" in view.waiting_for
    assert view.exists and not view.verified


def served(weights: tuple[int, int]) -> dict[str, Any]:
    """Our gateway's /config with one match of route default/web."""
    return {"ports": {"80": {"listeners": [{"hostnames": {"*": [{
        "route": "default/web", "backends": [
            {"backend": "default/web-stable:80", "weight": weights[0]},
            {"backend": "default/web-canary:80", "weight": weights[1]}]}]}}]}}}


def test_data_plane_share_is_read_from_the_serving_table() -> None:
    share = DataPlane.canary_share(served((900_000, 100_000)), "default", "web",
                                   "web-canary", "web-stable")
    assert share == pytest.approx(0.1)
    assert DataPlane.canary_share(served((1, 0)), "default", "other", "web-canary",
                                  "web-stable") is None


def test_our_gateway_still_serving_the_old_split_is_not_verified() -> None:
    ours = accepted(2)
    route_doc = route(2, [ours])
    view = route_view(route_doc, "web", "default", "HTTPRoute", make_rollout())
    assert view.verified
    plane = DataPlane("http://127.0.0.1:1")
    stale = _check_data_plane(view, route_doc, make_rollout(), plane, served((1, 0)))
    assert not stale.verified
    assert stale.waiting_for == "our gateway still serves canary weight 0"
    fresh = _check_data_plane(view, route_doc, make_rollout(), plane,
                              served((900_000, 100_000)))
    assert fresh.verified
    unreachable = _check_data_plane(view, route_doc, make_rollout(), plane, None)
    assert unreachable.waiting_for.startswith("cannot read our gateway's table")
