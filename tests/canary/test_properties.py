"""Properties of the decision core over random specs and random orders of events.

- traffic to the canary never exceeds the weight of the step in force;
- after an abort the canary weight is 0 in the very same decision;
- the decision is deterministic for the same inputs;
- a decision applied and observed again converges (a fixed point, no flapping).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.api.rollout import Rollout
from rollouts.api.validation import validate_rollout
from rollouts.canary.decide import decide
from rollouts.canary.simulation import FakeCluster
from rollouts.canary.steps import current_set_weight
from rollouts.canary.types import Decision, SetWeight
from tests.canary.support import T0, make_rollout, settle

weights = st.sampled_from([0, 0.5, 1, 5, 10, 20, 25, 33.3, 50, 75, 90, 100])
step = st.one_of(
    weights.map(lambda w: {"setWeight": w}),
    st.just({"pause": {}}),
    st.integers(1, 90).map(lambda s: {"pause": {"duration": f"{s}s"}}),
    st.just({"analysis": {"templates": [{"templateName": "sr"}]}}),
    st.integers(0, 6).map(lambda r: {"setCanaryScale": {"replicas": r}}),
    weights.map(lambda w: {"setCanaryScale": {"weight": w}}),
    st.just({"setCanaryScale": {"matchTrafficWeight": True}}),
)


@st.composite
def rollouts(draw: st.DrawFn) -> Rollout:
    steps = draw(st.lists(step, min_size=1, max_size=6))
    full = next((i for i, s in enumerate(steps) if s.get("setWeight") == 100), None)
    if full is not None:
        steps = steps[: full + 1]  # steps after full weight never run: invalid
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["analysis"] = {"templates": [{"templateName": "bg"}],
                             "startingStep": draw(st.integers(0, len(steps) - 1))}
    routing = draw(st.sampled_from([True, True, False]))
    if routing and draw(st.booleans()):
        extra["dynamicStableScale"] = True
    if not routing:
        steps = [s for s in steps if "setCanaryScale" not in s] or [{"pause": {}}]
        extra.pop("analysis", None)
    rollout = make_rollout(steps, replicas=draw(st.integers(1, 8)), routing=routing, **extra)
    assert validate_rollout(rollout) == [], validate_rollout(rollout)
    return rollout


events = st.lists(st.one_of(
    st.just(("decide",)),
    st.just(("decide",)),
    st.tuples(st.just("advance"), st.integers(1, 120)),
    st.tuples(st.just("ready"), st.integers(0, 8)),
    st.tuples(st.just("verdict"), st.sampled_from(["Successful", "Failed", "Inconclusive",
                                                   "Error"])),
    st.sampled_from([("promote",), ("abort",), ("retry",), ("pause",), ("unpause",),
                     ("promote_full",), ("update",), ("unverify",), ("verify",)]),
), min_size=5, max_size=40)


def check_decision(rollout: Rollout, cluster: FakeCluster, decision: Decision) -> None:
    again = decide(rollout, cluster.observe(), cluster_now[0])
    assert again == decision, "same inputs, same decision"
    status = decision.status
    index = status.current_step_index if status.current_step_index is not None else 0
    in_force = current_set_weight(rollout, index)
    set_weights = [a.canary_weight for a in decision.actions if isinstance(a, SetWeight)]
    for weight in set_weights:
        assert weight <= in_force + 1e-9, (weight, in_force, index)
    if status.canary and status.canary.weights:
        assert status.canary.weights.canary.weight <= in_force + 1e-9
    if status.abort and rollout.canary.traffic_routing is not None:
        assert status.canary and status.canary.weights
        assert status.canary.weights.canary.weight == 0
        routes_after = set_weights or [cluster.canary_weight()]
        assert routes_after[-1] == 0, "aborted: canary weight 0 in the same decision"


cluster_now = [T0]


def apply_event(cluster: FakeCluster, event: tuple[Any, ...]) -> None:
    status = cluster.rollout.status
    kind = event[0]
    if kind == "decide":
        decision = decide(cluster.rollout, cluster.observe(), cluster_now[0])
        check_decision(cluster.rollout, cluster, decision)
        cluster.apply(decision)
    elif kind == "advance":
        cluster_now[0] += timedelta(seconds=event[1])
    elif kind == "ready" and status is not None and status.current_pod_hash in \
            cluster.replica_sets:
        cluster.set_ready(status.current_pod_hash, event[1])
    elif kind == "verdict":
        running = [r.name for r in cluster.runs.values() if r.phase in ("Pending", "Running")]
        if running:
            cluster.finish_run(running[0], event[1], "random verdict")
    elif kind == "promote" and status is not None:
        cluster.promote()
    elif kind == "abort" and status is not None:
        cluster.patch_status(abort=True)
    elif kind == "retry" and status is not None:
        cluster.patch_status(abort=False)
    elif kind in ("pause", "unpause"):
        cluster.patch_spec(paused=kind == "pause")
    elif kind == "promote_full" and status is not None:
        cluster.patch_status(promote_full=True)
    elif kind == "update":
        cluster.change_template(f"rev-{cluster_now[0].timestamp()}-{len(cluster.applied)}")
    elif kind in ("verify", "unverify"):
        cluster.verified = kind == "verify"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rollout=rollouts(), script=events, auto_ready=st.booleans())
def test_random_event_orders_keep_the_invariants_and_converge(
    rollout: Rollout, script: list[tuple[Any, ...]], auto_ready: bool,
) -> None:
    cluster_now[0] = T0
    cluster = FakeCluster(rollout, auto_analysis=False, auto_ready=auto_ready)
    settle(cluster, T0)
    cluster.change_template("v2")
    for event in script:
        apply_event(cluster, event)
    # Let the world catch up: pods ready, routes verified, runs finished, time passing.
    cluster.auto_ready = True
    cluster.auto_analysis = True
    cluster.verified = True
    cluster.routes = [dataclasses.replace(r, verified=True) for r in cluster.routes]
    cluster.patch_spec(paused=False)
    for name, run in list(cluster.runs.items()):
        if run.phase in ("Pending", "Running"):
            cluster.finish_run(name, "Successful")
    for pod_hash, rs in list(cluster.replica_sets.items()):
        cluster.set_ready(pod_hash, rs.replicas)
    for _ in range(30):
        last = settle(cluster, cluster_now[0])
        check_decision(cluster.rollout, cluster, last)
        if last.status.phase in ("Healthy", "Degraded") and last.requeue_after is None:
            break
        if last.status.phase == "Paused":
            cluster.promote()
        cluster_now[0] += timedelta(seconds=last.requeue_after or 1)
    final = decide(cluster.rollout, cluster.observe(), cluster_now[0])
    assert final.actions == (), "a settled rollout asks for nothing more"
    assert final.status == cluster.rollout.status, "and its status does not flap"
    assert final.status.phase in ("Healthy", "Degraded")
