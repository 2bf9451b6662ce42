"""What the steps up to an index say: weight in force, canary scale, managed routes."""

from __future__ import annotations

import pytest

from rollouts.canary.steps import (
    canary_replicas,
    current_set_weight,
    desired_header_routes,
    desired_mirror_routes,
    step_label,
)
from tests.canary.support import make_rollout

STEPS = [{"setWeight": 5}, {"pause": {}}, {"setCanaryScale": {"replicas": 3}},
         {"setWeight": 40}, {"setCanaryScale": {"matchTrafficWeight": True}}, {"pause": {}}]


@pytest.mark.parametrize(("index", "weight"), [(0, 5), (1, 5), (2, 5), (3, 40), (5, 40),
                                                (6, 100)])
def test_weight_in_force_is_the_last_set_weight_at_or_before_the_index(index, weight) -> None:  # type: ignore[no-untyped-def]
    assert current_set_weight(make_rollout(STEPS), index) == weight


def test_weight_before_any_set_weight_is_zero() -> None:
    assert current_set_weight(make_rollout([{"pause": {}}, {"setWeight": 10}]), 0) == 0


@pytest.mark.parametrize(("index", "replicas"), [(0, 1), (2, 3), (3, 3), (4, 4), (6, 10)])
def test_canary_replicas_follow_weight_unless_set_canary_scale(index, replicas) -> None:  # type: ignore[no-untyped-def]
    rollout = make_rollout(STEPS, replicas=10)
    weight = current_set_weight(rollout, index)
    assert canary_replicas(rollout, index, weight, full=index >= len(STEPS)) == replicas


def test_min_pods_per_replica_set_raises_small_canaries() -> None:
    rollout = make_rollout([{"setWeight": 1}], replicas=10, minPodsPerReplicaSet=2)
    assert canary_replicas(rollout, 0, 1, full=False) == 2
    assert canary_replicas(rollout, 0, 0, full=False) == 0


def test_max_traffic_weight_scales_weights() -> None:
    rollout = make_rollout([{"setWeight": 100}], replicas=10, trafficRouting={
        "gatewayAPI": {"httpRoutes": [{"name": "web"}]}, "maxTrafficWeight": 1000})
    assert canary_replicas(rollout, 0, 100, full=False) == 1
    assert current_set_weight(rollout, 1) == 1000


def test_header_and_mirror_routes_are_the_last_set_per_name() -> None:
    match = [{"headerName": "X-A", "headerValue": {"prefix": "a"}}]
    rollout = make_rollout([
        {"setHeaderRoute": {"name": "a", "match": match}},
        {"setMirrorRoute": {"name": "m", "match": [{"method": {"exact": "GET"}}]}},
        {"setHeaderRoute": {"name": "a"}},
    ], trafficRouting={"gatewayAPI": {"httpRoutes": [{"name": "web"}]},
                       "managedRoutes": [{"name": "a"}, {"name": "m"}]})
    assert list(desired_header_routes(rollout, 1)) == ["a"]
    assert desired_header_routes(rollout, 2) == {}
    assert desired_mirror_routes(rollout, 2)["m"].percentage == 100


@pytest.mark.parametrize(("step", "label"), [
    ({"setWeight": 0.5}, "setWeight 0.5"),
    ({"pause": {"duration": "1h30m"}}, "pause 1h30m"),
    ({"pause": {}}, "pause"),
    ({"analysis": {"templates": [{"templateName": "a"}, {"templateName": "b"}]}},
     "analysis a, b"),
    ({"setCanaryScale": {"weight": 25}}, "setCanaryScale weight=25"),
])
def test_step_labels_read_like_the_manifest(step, label) -> None:  # type: ignore[no-untyped-def]
    assert step_label(make_rollout([step]).steps[0]) == label
