"""Where replicas, Services and traffic should be at a step, and whether they are there.

For a step index this computes the desired canary and stable replica counts, the
Service selectors, the canary weight and the managed routes, and reads the observed
world to say whether the step's traffic is in place (``applied``) or what it waits
for. Traffic moves to the canary only once it has the ready pods for that weight,
and only after its Service selects the canary's pods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollouts.api.rollout import Rollout
from rollouts.canary.plan import Desired
from rollouts.canary.routing import managed_route_names, verifies_weights
from rollouts.canary.steps import (
    canary_replicas,
    current_set_weight,
    desired_header_routes,
    desired_mirror_routes,
    max_weight,
)
from rollouts.canary.types import WEIGHT_EPSILON, Observed, RouteView

__all__ = ["TrafficState", "traffic_state"]


@dataclass(frozen=True)
class TrafficState:
    desired: Desired
    applied: bool
    message: str
    poll: bool = False
    """True when only a verification that no watch event will report is missing."""


def _route_name(route: RouteView) -> str:
    where = f"{route.namespace}/{route.name}" if route.namespace else route.name
    return f"{route.kind} {where}"


def _waiting_for_pods(wanted: int, ready: int) -> str:
    pods = "pod" if wanted == 1 else "pods"
    return f"waiting for {wanted} canary {pods} to become ready ({ready} ready)"


def observed_canary_weight(observed: Observed) -> float:
    """The largest canary weight any route carries now (missing weights count as 0)."""
    weights = [r.canary_weight or 0.0 for r in observed.routes if r.exists]
    return max(weights, default=0.0)


def _basic(rollout: Rollout, observed: Observed, new_hash: str, stable_hash: str,
           canary_target: int, available: int) -> TrafficState:
    """No traffic routing: the canary's share is its share of the pods."""
    total = rollout.spec.replicas
    desired = Desired()
    desired.scale(new_hash, canary_target, "canary")
    stable_target = total - min(canary_target, available)
    if stable_hash != new_hash:
        desired.scale(stable_hash, stable_target, "stable")
    stable_rs = observed.replica_set(stable_hash)
    if available < canary_target:
        return TrafficState(desired, False, _waiting_for_pods(canary_target, available))
    if stable_rs is not None and stable_rs.replicas > total - canary_target:
        return TrafficState(desired, False, f"scaling stable down to {total - canary_target}")
    return TrafficState(desired, True, "")


def traffic_state(rollout: Rollout, observed: Observed, new_hash: str, stable_hash: str,
                  index: int, *, full: bool) -> TrafficState:
    """Desired traffic at step ``index`` (``full``: all steps done) and whether it holds."""
    canary = rollout.canary
    total = rollout.spec.replicas
    top = max_weight(rollout)
    target = top if full else current_set_weight(rollout, index)
    canary_target = canary_replicas(rollout, index, target, full=full)
    canary_rs = observed.replica_set(new_hash)
    available = canary_rs.available_replicas if canary_rs else 0
    if canary.traffic_routing is None:
        return _basic(rollout, observed, new_hash, stable_hash, canary_target, available)
    assert canary.canary_service and canary.stable_service
    ready = available >= canary_target and (canary_target > 0 or target == 0)
    current = observed_canary_weight(observed)
    on_new = observed.services.get(canary.canary_service) == new_hash
    desired = Desired()
    if on_new:
        weight = target if ready else min(current, target)
    else:
        weight = 0.0
        if available >= 1 and current <= WEIGHT_EPSILON:
            desired.services[canary.canary_service] = new_hash
    desired.services[canary.stable_service] = stable_hash
    desired.canary_weight = weight
    desired.scale(new_hash, canary_target, "canary")
    if stable_hash != new_hash:
        stable_target = total
        if canary.dynamic_stable_scale:
            stable_share = top - min(current, weight)
            stable_target = math.ceil(round(total * stable_share / top, 9))
        desired.scale(stable_hash, stable_target, "stable")
    desired.managed_route_names = managed_route_names(rollout)
    desired.header_routes = desired_header_routes(rollout, index)
    desired.mirror_routes = desired_mirror_routes(rollout, index)
    return _verdict(rollout, observed, desired, target, canary_target, available, on_new)


def _verdict(rollout: Rollout, observed: Observed, desired: Desired, target: float,
             canary_target: int, available: int, on_new: bool) -> TrafficState:
    missing = [r for r in observed.routes if not r.exists]
    if missing:
        return TrafficState(desired, False, ", ".join(_route_name(r) for r in missing)
                            + " not found")
    if canary_target == 0 and target > 0:
        return TrafficState(desired, False, "setCanaryScale leaves the canary no pods to take "
                                            f"its {target:g}% of traffic")
    if available < canary_target:
        return TrafficState(desired, False, _waiting_for_pods(canary_target, available))
    if not on_new and target > 0:
        return TrafficState(desired, False, f"waiting for Service "
                                            f"{rollout.canary.canary_service} to select the "
                                            "canary pods")
    for route in observed.routes:
        if not route.carries(target):
            have = route.canary_weight
            shown = "none" if have is None else f"{have:g}%"
            return TrafficState(desired, False, f"waiting for {_route_name(route)} to carry "
                                                f"canary weight {target:g}% (it has {shown})")
        headers = {h.name: h for h in route.header_routes if h.name in desired.managed_route_names}
        mirrors = {m.name: m for m in route.mirror_routes if m.name in desired.managed_route_names}
        if headers != desired.header_routes or mirrors != desired.mirror_routes:
            return TrafficState(desired, False, f"waiting for {_route_name(route)} to carry "
                                                "the managed routes")
        if not route.verified and verifies_weights(rollout):
            reason = route.waiting_for or "no gateway controller has reported on it"
            return TrafficState(desired, False, f"waiting for {_route_name(route)}: {reason}",
                                poll=True)
    return TrafficState(desired, True, "")
