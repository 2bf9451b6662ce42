"""What a Rollout's trafficRouting names: its routes, its managed routes, verification.

The core, the simulator and the Kubernetes adapters all read these from the spec; they
read them here, so a route's default namespace or the managed routes' order is decided
once.
"""

from __future__ import annotations

from rollouts.api.rollout import Rollout
from rollouts.canary.types import RouteKind

__all__ = ["managed_route_names", "route_refs", "verifies_weights"]


def route_refs(rollout: Rollout) -> list[tuple[RouteKind, str, str]]:
    """(kind, name, namespace) of every route in gatewayAPI, HTTPRoutes first; a route
    without a namespace is in the Rollout's."""
    routing = rollout.canary.traffic_routing
    gateway = routing.gateway_api if routing else None
    if gateway is None:
        return []
    namespace = rollout.metadata.namespace or "default"
    refs: list[tuple[RouteKind, str, str]] = [
        ("HTTPRoute", r.name, r.namespace or namespace) for r in gateway.http_routes or []]
    return refs + [("GRPCRoute", r.name, r.namespace or namespace)
                   for r in gateway.grpc_routes or []]


def managed_route_names(rollout: Rollout) -> tuple[str, ...]:
    """The header and mirror routes the Rollout may add, in precedence order."""
    routing = rollout.canary.traffic_routing
    return tuple(r.name for r in (routing.managed_routes or [])) if routing else ()


def verifies_weights(rollout: Rollout) -> bool:
    """Whether a weight counts only once the gateway reports the route accepted."""
    routing = rollout.canary.traffic_routing
    gateway = routing.gateway_api if routing else None
    return gateway.verify_weights if gateway else True
