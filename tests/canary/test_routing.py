"""What trafficRouting names, read once for the core, the simulator and the adapters:
routes with their default namespace, managed routes in precedence order, verification,
and when a restart still needs the pods."""

from __future__ import annotations

from datetime import timedelta

from rollouts.api.rollout import RolloutStatus
from rollouts.canary.restart import restart_pending
from rollouts.canary.routing import managed_route_names, route_refs, verifies_weights
from rollouts.canary.types import RouteView
from tests.canary.support import T0, make_rollout


def test_route_refs_default_to_the_rollouts_namespace_http_routes_first() -> None:
    rollout = make_rollout(trafficRouting={"gatewayAPI": {
        "grpcRoutes": [{"name": "rpc"}],
        "httpRoutes": [{"name": "web"}, {"name": "edge", "namespace": "infra"}]}})
    assert route_refs(rollout) == [("HTTPRoute", "web", "default"),
                                   ("HTTPRoute", "edge", "infra"),
                                   ("GRPCRoute", "rpc", "default")]


def test_no_gateway_api_routing_names_no_routes_and_verifies() -> None:
    rollout = make_rollout(routing=False)
    assert route_refs(rollout) == []
    assert managed_route_names(rollout) == ()
    assert verifies_weights(rollout) is True


def test_managed_routes_keep_their_precedence_order() -> None:
    rollout = make_rollout(trafficRouting={"gatewayAPI": {"httpRoutes": [{"name": "web"}]},
                                           "managedRoutes": [{"name": "b"}, {"name": "a"}]})
    assert managed_route_names(rollout) == ("b", "a")


def test_verify_weights_false_is_read() -> None:
    rollout = make_rollout(trafficRouting={"gatewayAPI": {"httpRoutes": [{"name": "web"}],
                                                          "verifyWeights": False}})
    assert verifies_weights(rollout) is False


def test_a_route_carries_a_weight_up_to_float_noise_and_none_carries_nothing() -> None:
    assert RouteView("web", canary_weight=33.3).carries(33.3 + 1e-12)
    assert not RouteView("web", canary_weight=33.3).carries(33.4)
    assert not RouteView("web", canary_weight=None).carries(0.0)


def test_restart_is_pending_until_the_status_records_it() -> None:
    rollout = make_rollout()
    assert not restart_pending(rollout, None), "no restartAt, no restart"
    rollout.spec.restart_at = T0
    assert restart_pending(rollout, None)
    assert restart_pending(rollout, RolloutStatus(restarted_at=T0 - timedelta(hours=1)))
    assert not restart_pending(rollout, RolloutStatus(restarted_at=T0))
