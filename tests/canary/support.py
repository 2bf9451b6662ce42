"""Builders and a driver for the canary core's tests: Rollouts of the demo app, and a
loop that decides and applies against the fake cluster as the operator would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rollouts.api.rollout import Rollout
from rollouts.canary.decide import decide
from rollouts.canary.simulation import FakeCluster
from rollouts.canary.types import Action, Decision, SetWeight

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def make_rollout(steps: list[dict[str, Any]] | None = None, *, replicas: int = 4,
                 routing: bool = True, **canary: Any) -> Rollout:
    """A Rollout of the demo app; ``routing`` adds Gateway API traffic routing."""
    strategy: dict[str, Any] = {"steps": steps if steps is not None else []}
    if routing:
        strategy.update({
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "web"}]}},
        })
    strategy.update(canary)
    return Rollout.model_validate({
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "rollouts-demo:v1"}]},
            },
            "strategy": {"canary": strategy},
        },
    })


def settle(cluster: FakeCluster, now: datetime, limit: int = 40) -> Decision:
    """Decide and apply until a decision has no actions; return that last decision."""
    for _ in range(limit):
        decision = decide(cluster.rollout, cluster.observe(), now)
        cluster.apply(decision)
        if not decision.actions:
            return decision
    raise AssertionError(f"no fixed point after {limit} decisions: {decision.actions}")


def deployed(rollout: Rollout, now: datetime, **options: object) -> FakeCluster:
    """A cluster where ``rollout``'s first template is deployed and Healthy."""
    cluster = FakeCluster(rollout, **options)  # type: ignore[arg-type]
    settle(cluster, now)
    assert cluster.rollout.status is not None
    assert cluster.rollout.status.phase == "Healthy", cluster.rollout.status
    return cluster


def weights_set(actions: tuple[Action, ...] | list[Action]) -> list[float]:
    return [a.canary_weight for a in actions if isinstance(a, SetWeight)]
