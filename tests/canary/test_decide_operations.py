"""The canary core under users' operations (abort, retry, promote, promote full), the
progress deadline, promotion at the end, and traffic verification."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from rollouts.api.rollout import RollbackWindow
from rollouts.canary.decide import decide
from rollouts.canary.simulation import FakeCluster
from rollouts.canary.types import (
    CreateAnalysisRun,
    ScaleReplicaSet,
    SetHeaderRoute,
    SetMirrorRoute,
    TerminateAnalysisRun,
)
from tests.canary.support import T0, deployed, make_rollout, settle, weights_set

STEPS = [{"setWeight": 20}, {"pause": {}}, {"analysis": {"templates": [{"templateName": "sr"}]}},
         {"setWeight": 60}, {"pause": {"duration": "1m"}}]


def at(seconds: float):  # type: ignore[no-untyped-def]
    return T0 + timedelta(seconds=seconds)


def status(cluster: FakeCluster):  # type: ignore[no-untyped-def]
    assert cluster.rollout.status is not None
    return cluster.rollout.status


# -- abort and retry ------------------------------------------------------------------------


def test_abort_sends_all_traffic_to_stable_at_once_and_scales_canary_down_later() -> None:
    cluster = deployed(make_rollout(STEPS, abortScaleDownDelaySeconds=10), T0)
    new = cluster.change_template("v2")
    settle(cluster, T0)
    assert cluster.canary_weight() == 20
    cluster.patch_status(abort=True)
    decision = decide(cluster.rollout, cluster.observe(), at(1))
    assert weights_set(decision.actions) == [0.0]
    assert decision.status.aborted_at == at(1)
    assert decision.status.phase == "Degraded"
    assert decision.status.message == "RolloutAborted: Rollout aborted by the user"
    assert decision.requeue_after == pytest.approx(10)
    cluster.apply(decision)
    settle(cluster, at(5))
    assert cluster.replica_sets[new].replicas == 1, "kept for abortScaleDownDelaySeconds"
    settle(cluster, at(11))
    assert cluster.replica_sets[new].replicas == 0
    assert status(cluster).phase == "Degraded", "stays Degraded until retried or updated"


def test_abort_scale_down_delay_zero_keeps_the_canary() -> None:
    cluster = deployed(make_rollout(STEPS, abortScaleDownDelaySeconds=0), T0)
    new = cluster.change_template("v2")
    settle(cluster, T0)
    cluster.patch_status(abort=True)
    settle(cluster, at(3600))
    assert cluster.replica_sets[new].replicas == 1
    assert cluster.canary_weight() == 0


def test_retry_starts_again_from_step_zero_with_fresh_analysis_runs() -> None:
    cluster = deployed(make_rollout(STEPS), T0)
    cluster.verdict = lambda run: ("Failed", 'metric "sr" assessed Failed')
    cluster.change_template("v2")
    settle(cluster, T0)
    cluster.promote()
    settle(cluster, T0)
    assert status(cluster).abort is True
    first_run = next(iter(cluster.runs))
    cluster.verdict = lambda run: ("Successful", "")
    cluster.patch_status(abort=False)
    decision = decide(cluster.rollout, cluster.observe(), at(60))
    assert decision.status.current_step_index == 0
    assert decision.status.aborted_at is None
    assert decision.status.phase == "Progressing"
    cluster.apply(decision)
    settle(cluster, at(60))
    cluster.promote()
    settle(cluster, at(60))
    runs = [a.name for a in cluster.applied if isinstance(a, CreateAnalysisRun)]
    assert runs == [first_run, first_run + "-retry1"]
    assert status(cluster).current_step_index == 4


# -- promote and promote full ---------------------------------------------------------------


def test_promote_on_a_step_that_is_not_paused_skips_it() -> None:
    cluster = deployed(make_rollout(STEPS), T0)
    cluster.auto_analysis = False
    new = cluster.change_template("v2")
    settle(cluster, T0)
    cluster.promote()
    settle(cluster, T0)
    assert status(cluster).current_step_index == 2, "waiting for the analysis run"
    cluster.promote()
    decision = settle(cluster, T0)
    assert decision.status.current_step_index == 4
    assert cluster.canary_weight() == 60
    assert any(isinstance(a, TerminateAnalysisRun) for a in cluster.applied), \
        "the skipped step's run is terminated"
    assert [a for a in cluster.applied if isinstance(a, TerminateAnalysisRun)] == [
        TerminateAnalysisRun(f"web-{new}-step2")], "only the skipped step's run"


def test_promote_full_skips_remaining_steps_and_analysis() -> None:
    cluster = deployed(make_rollout(STEPS), T0)
    stable = status(cluster).stable_rs
    new = cluster.change_template("v2")
    settle(cluster, T0)
    cluster.patch_status(promote_full=True)
    decision = settle(cluster, T0)
    assert decision.status.phase == "Healthy"
    assert decision.status.stable_rs == new != stable
    assert not any(isinstance(a, CreateAnalysisRun) for a in cluster.applied)
    assert decision.status.promote_full is None


# -- the end of a rollout -------------------------------------------------------------------


def test_at_the_end_the_canary_becomes_stable_and_the_old_one_scales_down_after_delay() -> None:
    cluster = deployed(make_rollout([{"setWeight": 50}], scaleDownDelaySeconds=45), T0)
    old = status(cluster).stable_rs or ""
    new = cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert decision.status.stable_rs == new
    assert decision.status.phase == "Healthy"
    assert cluster.services == {"web-canary": new, "web-stable": new}
    assert cluster.canary_weight() == 0, "stable weight back to 100 % on the new pods"
    assert max(weights_set(cluster.applied)) == 100, "full weight on the canary first"
    assert cluster.replica_sets[new].replicas == 4
    assert cluster.replica_sets[old].replicas == 4
    assert cluster.replica_sets[old].scale_down_deadline == at(45)
    assert decision.requeue_after == pytest.approx(45)
    settle(cluster, at(45))
    assert cluster.replica_sets[old].replicas == 0
    conditions = {c.type: (c.status, c.reason) for c in status(cluster).conditions or []}
    assert conditions["Completed"] == ("True", "RolloutCompleted")
    assert conditions["Healthy"] == ("True", "RolloutHealthy")
    assert conditions["Available"] == ("True", "AvailableReason")


def test_a_second_update_mid_rollout_drains_the_old_canary_before_switching() -> None:
    cluster = deployed(make_rollout([{"setWeight": 30}, {"pause": {}}]), T0)
    first = cluster.change_template("v2")
    settle(cluster, T0)
    assert cluster.canary_weight() == 30
    cluster.auto_ready = False
    second = cluster.change_template("v3")
    decision = decide(cluster.rollout, cluster.observe(), at(1))
    assert weights_set(decision.actions) == [0.0], "the old canary's traffic goes to stable"
    cluster.apply(decision)
    settle(cluster, at(1))
    assert cluster.services["web-canary"] == first, "no ready pods of v3 to select yet"
    assert cluster.replica_sets[first].replicas > 0
    cluster.set_ready(second, 2)
    settle(cluster, at(2))
    assert cluster.services["web-canary"] == second
    assert cluster.canary_weight() == 30
    settle(cluster, at(40))
    assert cluster.replica_sets[first].replicas == 0


# -- progress deadline ------------------------------------------------------------------------


def test_progress_deadline_marks_degraded_and_recovers_when_pods_come() -> None:
    rollout = make_rollout([{"setWeight": 50}, {"pause": {}}])
    rollout.spec.progress_deadline_seconds = 60
    cluster = deployed(rollout, T0)
    cluster.auto_ready = False
    new = cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert decision.requeue_after == pytest.approx(60, abs=0.01)
    decision = settle(cluster, at(61))
    assert decision.status.phase == "Degraded"
    assert decision.status.message.startswith("ProgressDeadlineExceeded")  # type: ignore[union-attr]
    assert "waiting for 2 canary pods" in (decision.status.message or "")
    decision = settle(cluster, at(120))
    assert decision.status.phase == "Degraded", "no flapping while nothing changes"
    cluster.set_ready(new, 2)
    decision = settle(cluster, at(121))
    assert decision.status.phase == "Paused"


def test_progress_deadline_abort_aborts() -> None:
    rollout = make_rollout([{"setWeight": 50}, {"pause": {}}])
    rollout.spec.progress_deadline_seconds = 60
    rollout.spec.progress_deadline_abort = True
    cluster = deployed(rollout, T0)
    cluster.auto_ready = False
    cluster.change_template("v2")
    settle(cluster, T0)
    decision = settle(cluster, at(61))
    assert decision.status.abort is True
    assert decision.status.phase == "Degraded"
    assert "ProgressDeadlineExceeded" in (decision.status.message or "")


# -- traffic verification and routes ------------------------------------------------------------


def test_unverified_weights_hold_the_step_with_a_message_naming_the_route() -> None:
    cluster = deployed(make_rollout([{"setWeight": 10}, {"setWeight": 20}]), T0)
    cluster.verified = False
    cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert decision.status.current_step_index == 0
    assert cluster.canary_weight() == 10
    assert decision.status.message == ("step 1 of 2 (setWeight 10): waiting for HTTPRoute "
                                       "default/web: no gateway controller has reported on it")
    assert decision.requeue_after == pytest.approx(1.0)
    assert decision.status.canary and decision.status.canary.weights
    assert decision.status.canary.weights.verified is False
    cluster.verified = True
    cluster.routes = [dataclasses.replace(r, verified=True) for r in cluster.routes]
    decision = settle(cluster, T0)
    assert cluster.canary_weight() == 0 and decision.status.phase == "Healthy"


def test_verify_weights_false_proceeds_without_gateway_status() -> None:
    rollout = make_rollout([{"setWeight": 10}, {"pause": {}}])
    assert rollout.canary.traffic_routing and rollout.canary.traffic_routing.gateway_api
    rollout.canary.traffic_routing.gateway_api.verify_weights = False
    cluster = deployed(rollout, T0)
    cluster.verified = False
    cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert decision.status.current_step_index == 1


def test_a_missing_route_is_named() -> None:
    cluster = deployed(make_rollout([{"setWeight": 10}]), T0)
    cluster.routes = [dataclasses.replace(r, exists=False) for r in cluster.routes]
    cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert "HTTPRoute default/web not found" in (decision.status.message or "")


def test_header_and_mirror_routes_are_set_waited_for_and_removed_at_the_end() -> None:
    match = [{"headerName": "X-Canary", "headerValue": {"exact": "yes"}}]
    steps = [{"setHeaderRoute": {"name": "beta", "match": match}},
             {"setMirrorRoute": {"name": "shadow", "percentage": 5,
                                 "match": [{"path": {"prefix": "/api"}}]}},
             {"pause": {}}, {"setHeaderRoute": {"name": "beta"}}, {"setWeight": 50}]
    rollout = make_rollout(steps, trafficRouting={
        "gatewayAPI": {"httpRoutes": [{"name": "web"}]},
        "managedRoutes": [{"name": "beta"}, {"name": "shadow"}]})
    cluster = deployed(rollout, T0)
    cluster.change_template("v2")
    settle(cluster, T0)
    (route,) = cluster.routes
    assert [h.name for h in route.header_routes] == ["beta"]
    assert [(m.name, m.percentage) for m in route.mirror_routes] == [("shadow", 5)]
    assert status(cluster).current_step_index == 2
    cluster.promote()
    settle(cluster, T0)
    (route,) = cluster.routes
    assert route.header_routes == () and route.mirror_routes == ()
    assert status(cluster).phase == "Healthy"
    kinds = [type(a) for a in cluster.applied if isinstance(a, SetHeaderRoute | SetMirrorRoute)]
    assert kinds == [SetHeaderRoute, SetMirrorRoute, SetHeaderRoute, SetMirrorRoute]


# -- spec problems and other strategies ---------------------------------------------------------


def test_invalid_spec_gets_invalid_spec_condition_and_no_actions() -> None:
    rollout = make_rollout([{"setHeaderRoute": {"name": "not-managed"}}])
    decision = decide(rollout, FakeCluster(rollout).observe(), T0)
    assert decision.actions == ()
    assert decision.status.phase == "Degraded"
    (condition,) = [c for c in decision.status.conditions or [] if c.type == "InvalidSpec"]
    assert condition.status == "True"
    assert "steps[0].setHeaderRoute.name" in (condition.message or "")


def test_basic_canary_without_traffic_routing_splits_by_replicas() -> None:
    cluster = deployed(make_rollout([{"setWeight": 25}, {"pause": {}}], routing=False), T0)
    stable = status(cluster).stable_rs or ""
    new = cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert (cluster.replica_sets[new].replicas, cluster.replica_sets[stable].replicas) == (1, 3)
    assert decision.status.phase == "Paused"
    cluster.promote()
    settle(cluster, T0)
    assert (cluster.replica_sets[new].replicas, cluster.replica_sets[stable].replicas) == (4, 0)


def test_changing_steps_mid_rollout_restarts_from_step_zero() -> None:
    cluster = deployed(make_rollout([{"setWeight": 20}, {"pause": {}}, {"setWeight": 40},
                                     {"pause": {}}]), T0)
    cluster.change_template("v2")
    settle(cluster, T0)
    cluster.promote()
    settle(cluster, T0)
    assert status(cluster).current_step_index == 3
    cluster.patch_spec(strategy=make_rollout([{"setWeight": 5}, {"pause": {}}]).spec.strategy)
    decision = settle(cluster, T0)
    assert decision.status.current_step_index == 1
    assert cluster.canary_weight() == 5


def test_fractional_weights_are_kept_exactly() -> None:
    cluster = deployed(make_rollout([{"setWeight": 0.5}, {"pause": {}}], replicas=10), T0)
    new = cluster.change_template("v2")
    settle(cluster, T0)
    assert cluster.canary_weight() == 0.5
    assert cluster.replica_sets[new].replicas == 1
    weights = status(cluster).canary.weights  # type: ignore[union-attr]
    assert (weights.canary.weight, weights.stable.weight) == (0.5, 99.5)  # type: ignore[union-attr]


def test_rollback_window_skips_steps_back_to_a_recent_revision() -> None:
    rollout = make_rollout([{"setWeight": 20}, {"pause": {}}])
    rollout.spec.rollback_window = RollbackWindow(revisions=2)
    cluster = deployed(rollout, T0)
    v1 = dict(cluster.rollout.spec.template or {})
    cluster.change_template("v2")
    settle(cluster, T0)
    cluster.promote()
    settle(cluster, T0)
    assert status(cluster).phase == "Healthy"
    cluster.patch_spec(template=v1)
    decision = decide(cluster.rollout, cluster.observe(), T0)
    assert decision.status.current_step_index == 2, "steps skipped"
    assert any(isinstance(a, ScaleReplicaSet) and a.replicas == 4 for a in decision.actions)
