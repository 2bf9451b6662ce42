"""The planner orders actions so traffic never reaches pods that are not there."""

from __future__ import annotations

from rollouts.canary.plan import Desired, plan_actions
from rollouts.canary.types import (
    EmitEvent,
    Observed,
    PointService,
    ReplicaSetView,
    RouteView,
    ScaleReplicaSet,
    SetWeight,
)


def test_scale_up_then_services_then_weights_then_scale_down_then_events() -> None:
    observed = Observed(
        replica_sets=(ReplicaSetView("new", 1, 1, 1), ReplicaSetView("old", 4, 4, 4)),
        routes=(RouteView("web", canary_weight=10),),
        services={"canary": "old"})
    desired = Desired()
    desired.scale("old", 0, "old")
    desired.scale("new", 4, "canary")
    desired.services["canary"] = "new"
    desired.canary_weight = 50
    desired.event("Reason", "message")
    actions = plan_actions(desired, observed)
    assert [type(a) for a in actions] == [ScaleReplicaSet, PointService, SetWeight,
                                          ScaleReplicaSet, EmitEvent]
    assert actions[0] == ScaleReplicaSet("new", 4, "canary")
    assert actions[3] == ScaleReplicaSet("old", 0, "old")


def test_nothing_is_emitted_for_what_already_holds() -> None:
    observed = Observed(replica_sets=(ReplicaSetView("new", 2, 2, 2),),
                        routes=(RouteView("web", canary_weight=20),), services={"c": "new"})
    desired = Desired()
    desired.scale("new", 2, "canary")
    desired.services["c"] = "new"
    desired.canary_weight = 20
    assert plan_actions(desired, observed) == ()


def test_a_route_that_lost_its_weight_is_written_again() -> None:
    observed = Observed(routes=(RouteView("a", canary_weight=20),
                                RouteView("b", canary_weight=None)))
    desired = Desired(canary_weight=20)
    assert plan_actions(desired, observed) == (SetWeight(20, None, None),)
