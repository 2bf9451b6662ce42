"""The canary decision core, behaviour by behaviour, step by step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollouts.canary.decide import decide
from rollouts.canary.hashing import pod_template_hash
from rollouts.canary.simulation import FakeCluster
from rollouts.canary.types import (
    CreateAnalysisRun,
    EmitEvent,
    PointService,
    ScaleReplicaSet,
    TerminateAnalysisRun,
)
from tests.canary.support import T0, deployed, make_rollout, settle, weights_set

STEPS = [{"setWeight": 10}, {"pause": {"duration": "30s"}}, {"setWeight": 50},
         {"analysis": {"templates": [{"templateName": "success-rate"}]}}, {"pause": {}},
         {"setWeight": 100}]


def status(cluster: FakeCluster):  # type: ignore[no-untyped-def]
    assert cluster.rollout.status is not None
    return cluster.rollout.status


# -- first revision, new revisions, fast rollback -------------------------------------------


def test_first_revision_becomes_stable_at_once_without_steps() -> None:
    cluster = FakeCluster(make_rollout(STEPS))
    decision = decide(cluster.rollout, cluster.observe(), T0)
    first_hash = pod_template_hash(cluster.rollout.spec.template or {})
    assert decision.status.stable_rs == first_hash
    assert decision.status.current_step_index == len(STEPS)
    assert ScaleReplicaSet(first_hash, 4, "stable") in decision.actions
    assert PointService("web-stable", first_hash) in decision.actions
    assert PointService("web-canary", first_hash) in decision.actions
    cluster.apply(decision)
    final = settle(cluster, T0)
    assert final.status.phase == "Healthy"
    assert final.status.available_replicas == 4


def test_new_template_starts_canary_at_step_zero_and_stable_keeps_serving() -> None:
    cluster = deployed(make_rollout(STEPS), T0)
    stable = status(cluster).stable_rs
    new = cluster.change_template("v2")
    decision = decide(cluster.rollout, cluster.observe(), T0)
    assert decision.status.current_step_index == 0
    assert decision.status.current_pod_hash == new
    assert decision.status.stable_rs == stable
    assert ScaleReplicaSet(new, 1, "canary") in decision.actions
    assert not any(isinstance(a, ScaleReplicaSet) and a.pod_template_hash == stable
                   for a in decision.actions), "stable keeps its 4 pods"
    assert decision.status.phase == "Progressing"
    assert any(isinstance(e, EmitEvent) and e.reason == "RolloutUpdated"
               for e in decision.actions)


def test_template_changed_back_to_stable_is_a_fast_rollback() -> None:
    cluster = deployed(make_rollout(STEPS), T0)
    original = dict(cluster.rollout.spec.template or {})
    stable = status(cluster).stable_rs
    new = cluster.change_template("v2")
    settle(cluster, T0)
    assert cluster.canary_weight() == 10
    cluster.patch_spec(template=original)
    decision = decide(cluster.rollout, cluster.observe(), T0)
    assert decision.status.current_step_index == len(STEPS), "no steps are run"
    assert weights_set(decision.actions) == [0.0], "traffic back to stable at once"
    assert decision.status.stable_rs == stable
    cluster.apply(decision)
    settle(cluster, T0)
    assert status(cluster).phase == "Healthy"
    assert cluster.replica_sets[new].replicas == 1, "canary kept for scaleDownDelaySeconds"
    settle(cluster, T0 + timedelta(seconds=31))
    assert cluster.replica_sets[new].replicas == 0


# -- setWeight waits for ready pods ---------------------------------------------------------


def test_set_weight_moves_traffic_only_once_the_canary_pods_are_ready() -> None:
    cluster = deployed(make_rollout([{"setWeight": 50}, {"pause": {}}], replicas=4), T0)
    cluster.auto_ready = False
    new = cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert cluster.replica_sets[new].replicas == 2
    assert cluster.canary_weight() == 0
    assert decision.status.message == ("step 1 of 2 (setWeight 50): waiting for 2 canary pods "
                                       "to become ready (0 ready)")
    cluster.set_ready(new, 1)
    decision = settle(cluster, T0)
    assert cluster.canary_weight() == 0, "one of two pods is not enough for 50%"
    assert cluster.services["web-canary"] == new, "the Service may select ready canary pods"
    cluster.set_ready(new, 2)
    decision = settle(cluster, T0)
    assert cluster.canary_weight() == 50
    assert decision.status.current_step_index == 1


@pytest.mark.parametrize(
    ("scale", "weight", "expected_canary"),
    [
        ({"replicas": 3}, 10, 3),
        ({"weight": 50}, 10, 5),
        ({"matchTrafficWeight": True}, 20, 2),
    ],
)
def test_set_canary_scale_decouples_replicas_from_weight(scale, weight, expected_canary) -> None:  # type: ignore[no-untyped-def]
    steps = [{"setCanaryScale": scale}, {"setWeight": weight}, {"pause": {}}]
    cluster = deployed(make_rollout(steps, replicas=10), T0)
    new = cluster.change_template("v2")
    settle(cluster, T0)
    assert cluster.replica_sets[new].replicas == expected_canary
    assert cluster.canary_weight() == weight
    assert cluster.replica_sets[status(cluster).stable_rs or ""].replicas == 10


def test_dynamic_stable_scale_scales_stable_down_as_canary_takes_traffic() -> None:
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]
    cluster = deployed(make_rollout(steps, replicas=4, dynamicStableScale=True), T0)
    stable = status(cluster).stable_rs or ""
    cluster.change_template("v2")
    settle(cluster, T0)
    assert cluster.canary_weight() == 25
    assert cluster.replica_sets[stable].replicas == 3
    cluster.promote()
    settle(cluster, T0)
    assert cluster.canary_weight() == 75
    assert cluster.replica_sets[stable].replicas == 1


# -- pauses --------------------------------------------------------------------------------


def test_pause_with_duration_resumes_by_itself_at_the_right_time() -> None:
    cluster = deployed(make_rollout(STEPS), T0)
    cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert decision.status.current_step_index == 1
    assert decision.status.phase == "Paused"
    assert decision.requeue_after == pytest.approx(30)
    pause = (decision.status.pause_conditions or [])[0]
    assert (pause.reason, pause.start_time) == ("CanaryPauseStep", T0)
    decision = settle(cluster, T0 + timedelta(seconds=29))
    assert decision.status.current_step_index == 1
    assert decision.requeue_after == pytest.approx(1)
    decision = settle(cluster, T0 + timedelta(seconds=30))
    assert decision.status.current_step_index == 4, "resumed: 50 %, analysis, next pause"
    assert [p.start_time for p in decision.status.pause_conditions or []] == [
        T0 + timedelta(seconds=30)]


def test_pause_without_duration_waits_for_promote() -> None:
    cluster = deployed(make_rollout([{"setWeight": 20}, {"pause": {}}, {"setWeight": 40},
                                     {"pause": {}}]), T0)
    cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert decision.status.phase == "Paused"
    assert decision.requeue_after is None
    assert decision.status.message == "paused at step 2 of 4: waiting for promote"
    decision = settle(cluster, T0 + timedelta(hours=5))
    assert decision.status.current_step_index == 1, "an indefinite pause never times out"
    cluster.promote()
    decision = settle(cluster, T0 + timedelta(hours=5))
    assert decision.status.current_step_index == 3
    assert cluster.canary_weight() == 40


def test_spec_paused_pauses_anywhere_and_unpausing_goes_on() -> None:
    cluster = deployed(make_rollout([{"setWeight": 20}, {"setWeight": 40}, {"pause": {}}]), T0)
    cluster.patch_spec(paused=True)
    cluster.change_template("v2")
    decision = settle(cluster, T0)
    assert decision.status.phase == "Paused"
    assert decision.status.current_step_index == 0
    assert cluster.canary_weight() == 20, "the current step's weight still applies"
    assert "paused by the user" in (decision.status.message or "")
    cluster.patch_spec(paused=False)
    decision = settle(cluster, T0)
    assert cluster.canary_weight() == 40
    assert decision.status.current_step_index == 2


# -- analysis ------------------------------------------------------------------------------


def _in_analysis(verdict: str, message: str = "") -> FakeCluster:
    cluster = deployed(make_rollout(STEPS), T0)
    cluster.auto_analysis = False
    cluster.change_template("v2")
    settle(cluster, T0)
    settle(cluster, T0 + timedelta(seconds=30))
    assert status(cluster).current_step_index == 3
    (run_name,) = cluster.runs
    cluster.finish_run(run_name, verdict, message)
    return cluster


def test_successful_analysis_goes_on() -> None:
    cluster = _in_analysis("Successful")
    decision = settle(cluster, T0 + timedelta(seconds=30))
    assert decision.status.current_step_index == 4
    assert decision.status.phase == "Paused"


def test_failed_analysis_aborts_with_the_metric_in_the_message() -> None:
    cluster = _in_analysis("Failed", 'metric "success-rate" assessed Failed: 0.42 < 0.95')
    decision = decide(cluster.rollout, cluster.observe(), T0 + timedelta(seconds=31))
    assert weights_set(decision.actions) == [0.0], "back to stable in the same decision"
    assert decision.status.abort is True
    assert decision.status.phase == "Degraded"
    assert "success-rate" in (decision.status.message or "")
    assert decision.status.message.startswith("RolloutAborted: analysis run web-")  # type: ignore[union-attr]


def test_errored_analysis_aborts_too() -> None:
    cluster = _in_analysis("Error", "prometheus unreachable")
    decision = settle(cluster, T0 + timedelta(seconds=31))
    assert decision.status.abort is True
    assert cluster.canary_weight() == 0


def test_inconclusive_analysis_pauses_and_promote_goes_on() -> None:
    cluster = _in_analysis("Inconclusive", "latency 480ms between thresholds")
    decision = settle(cluster, T0 + timedelta(seconds=31))
    assert decision.status.phase == "Paused"
    assert [p.reason for p in decision.status.pause_conditions or []] == [
        "InconclusiveAnalysisRun"]
    assert cluster.canary_weight() == 50
    cluster.promote()
    decision = settle(cluster, T0 + timedelta(seconds=32))
    assert decision.status.current_step_index == 4


def test_background_analysis_starts_at_starting_step_and_aborts_on_failure() -> None:
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 30}, {"pause": {}}]
    background = {"templates": [{"templateName": "latency"}], "startingStep": 2}
    cluster = deployed(make_rollout(steps, analysis=background), T0)
    cluster.auto_analysis = False
    cluster.change_template("v2")
    settle(cluster, T0)
    assert not cluster.runs, "before startingStep no background run"
    cluster.promote()
    settle(cluster, T0)
    (name,) = cluster.runs
    assert name.endswith("-background")
    cluster.finish_run(name, "Failed", 'metric "p99" assessed Failed')
    decision = settle(cluster, T0)
    assert decision.status.abort is True
    assert cluster.canary_weight() == 0
    assert "p99" in (decision.status.message or "")


def test_background_analysis_is_terminated_when_the_rollout_completes() -> None:
    background = {"templates": [{"templateName": "latency"}]}
    cluster = deployed(make_rollout([{"setWeight": 50}, {"pause": {}}],
                                    analysis=background), T0)
    cluster.auto_analysis = False
    new = cluster.change_template("v2")
    settle(cluster, T0)
    cluster.promote()
    settle(cluster, T0)
    assert status(cluster).phase == "Healthy"
    assert any(isinstance(a, TerminateAnalysisRun) for a in cluster.applied)
    (name,) = cluster.runs
    assert name.endswith("-background")
    assert name == f"web-{new}-background"
    assert TerminateAnalysisRun(name) in cluster.applied
    assert cluster.runs[name].phase != "Running", "the run was stopped, not left measuring"
    # terminated exactly once, and a terminated run ends Successful (as Argo's does)
    assert [a for a in cluster.applied if isinstance(a, TerminateAnalysisRun)] == [
        TerminateAnalysisRun(name)]
    assert (cluster.runs[name].phase, cluster.runs[name].message) == ("Successful", "terminated")


def test_pod_template_hash_args_are_resolved_for_the_run() -> None:
    steps = [{"analysis": {"templates": [{"templateName": "t"}], "args": [
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        {"name": "service", "value": "web"}]}}]
    cluster = deployed(make_rollout(steps), T0)
    stable = status(cluster).stable_rs
    new = cluster.change_template("v2")
    settle(cluster, T0)
    (create,) = [a for a in cluster.applied if isinstance(a, CreateAnalysisRun)]
    assert {a.name: a.value for a in create.args} == {
        "canary-hash": new, "stable-hash": stable, "service": "web"}
