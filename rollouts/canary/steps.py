"""What the steps up to the current one say: weight, canary scale, managed routes.

Argo's rule, which users rely on: the effective value of a step kind at index *i* is
the last one set at or before *i*; past the last step, traffic is full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollouts.api.rollout import CanaryStep, Rollout, SetCanaryScale
from rollouts.canary.types import HeaderRoute, MirrorRoute

__all__ = [
    "CanaryScale",
    "canary_replicas",
    "current_canary_scale",
    "current_set_weight",
    "desired_header_routes",
    "desired_mirror_routes",
    "max_weight",
    "step_label",
]


def max_weight(rollout: Rollout) -> float:
    routing = rollout.canary.traffic_routing
    return float(routing.max_traffic_weight) if routing else 100.0


def current_set_weight(rollout: Rollout, index: int) -> float:
    """The setWeight in force at step ``index`` (full weight once past the last step)."""
    steps = rollout.steps
    if index >= len(steps):
        return max_weight(rollout)
    for step in reversed(steps[: index + 1]):
        if step.set_weight is not None:
            return step.set_weight
    return 0.0


@dataclass(frozen=True)
class CanaryScale:
    replicas: int | None = None
    weight: float | None = None


def current_canary_scale(rollout: Rollout, index: int) -> CanaryScale | None:
    """The setCanaryScale in force at ``index``, or None when replicas follow the weight."""
    scale: SetCanaryScale | None = None
    for step in rollout.steps[: index + 1]:
        if step.set_canary_scale is not None:
            scale = step.set_canary_scale
    if scale is None or scale.match_traffic_weight:
        return None
    return CanaryScale(replicas=scale.replicas, weight=scale.weight)


def canary_replicas(rollout: Rollout, index: int, weight: float, *, full: bool) -> int:
    """How many canary pods the weight (or setCanaryScale) asks for."""
    total = rollout.spec.replicas
    if full:
        return total
    scale = current_canary_scale(rollout, index)
    if scale is not None and scale.replicas is not None:
        count = scale.replicas
    else:
        share = scale.weight if scale is not None and scale.weight is not None else weight
        count = math.ceil(round(share * total / max_weight(rollout), 9))
    minimum = rollout.canary.min_pods_per_replica_set
    if minimum is not None and count > 0 and rollout.canary.traffic_routing is not None:
        count = max(count, minimum)
    return min(count, total) if scale is None else count


def desired_header_routes(rollout: Rollout, index: int) -> dict[str, HeaderRoute]:
    """Managed header routes the steps up to ``index`` leave in place, by name."""
    routes: dict[str, HeaderRoute] = {}
    for step in rollout.steps[: index + 1]:
        header = step.set_header_route
        if header is None:
            continue
        if header.match:
            routes[header.name] = HeaderRoute(header.name, tuple(header.match))
        else:
            routes.pop(header.name, None)
    return routes


def desired_mirror_routes(rollout: Rollout, index: int) -> dict[str, MirrorRoute]:
    """Managed mirror routes the steps up to ``index`` leave in place, by name."""
    routes: dict[str, MirrorRoute] = {}
    for step in rollout.steps[: index + 1]:
        mirror = step.set_mirror_route
        if mirror is None:
            continue
        if mirror.match:
            percentage = 100.0 if mirror.percentage is None else mirror.percentage
            routes[mirror.name] = MirrorRoute(mirror.name, percentage, tuple(mirror.match))
        else:
            routes.pop(mirror.name, None)
    return routes


def step_label(step: CanaryStep) -> str:
    """A short human description of a step, for messages and the simulator."""
    if step.set_weight is not None:
        return f"setWeight {step.set_weight:g}"
    if step.pause is not None:
        return f"pause {step.pause.duration}" if step.pause.duration is not None else "pause"
    if step.analysis is not None:
        return "analysis " + ", ".join(t.template_name for t in step.analysis.templates)
    if step.set_canary_scale is not None:
        s = step.set_canary_scale
        if s.replicas is not None:
            return f"setCanaryScale replicas={s.replicas}"
        if s.weight is not None:
            return f"setCanaryScale weight={s.weight:g}"
        return "setCanaryScale matchTrafficWeight"
    if step.set_header_route is not None:
        verb = "set" if step.set_header_route.match else "remove"
        return f"{verb} header route {step.set_header_route.name}"
    if step.set_mirror_route is not None:
        verb = "set" if step.set_mirror_route.match else "remove"
        return f"{verb} mirror route {step.set_mirror_route.name}"
    return "empty step"
