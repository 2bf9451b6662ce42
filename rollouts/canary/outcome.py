"""The end of a decision: the progress deadline, old ReplicaSets, replica counts,
conditions and phase, and the planned actions.
"""

from __future__ import annotations

from datetime import timedelta

from rollouts.api.base import resolve_int_or_percent
from rollouts.api.reasons import Reason
from rollouts.api.rollout import (
    CanaryStatus,
    TrafficWeights,
    WeightDestination,
)
from rollouts.canary.conditions import Facts, derive_conditions, derive_phase, invalid_status
from rollouts.canary.gates import Gates
from rollouts.canary.history import housekeeping
from rollouts.canary.plan import plan_actions
from rollouts.canary.routing import verifies_weights
from rollouts.canary.steps import max_weight
from rollouts.canary.types import (
    Decision,
    EmitEvent,
    SetWeight,
)

__all__ = ["Outcome"]


class Outcome(Gates):
    """Everything a decision derives once the recipe has chosen its path."""

    # -- 4d. progress deadline ----------------------------------------------------------

    def _progressed(self) -> bool:
        old, new = self.old, self.status
        return (old.current_step_index != new.current_step_index
                or old.current_pod_hash != new.current_pod_hash
                or self._counts() != (old.updated_replicas, old.ready_replicas,
                                      old.available_replicas)
                or self.desired.canary_weight != self._old_weight())

    def _check_progress_deadline(self) -> None:
        if self.paused or self.status.abort or self.status.stable_rs == self.new_hash:
            return
        progressing = next((c for c in self.old.conditions or [] if c.type == "Progressing"),
                           None)
        deadline = self.rollout.spec.progress_deadline_seconds
        if progressing is not None and progressing.reason == Reason.PROGRESS_DEADLINE_EXCEEDED \
                and not self._progressed():
            exceeded = True
        elif (progressing is not None and progressing.last_update_time is not None
              and progressing.reason in (Reason.NEW_REPLICA_SET_CREATED,
                                         Reason.REPLICA_SET_UPDATED)
              and not self._progressed()):
            elapsed = (self.now - progressing.last_update_time).total_seconds()
            exceeded = elapsed > deadline
            if not exceeded:
                self.requeues.append(deadline - elapsed + 0.001)
        else:
            self.requeues.append(float(deadline) + 0.001)
            return
        if not exceeded:
            return
        message = (f"Rollout has not progressed for {deadline}s "
                   f"(progressDeadlineSeconds): {'; '.join(self.waits) or 'no progress'}")
        self.deadline_message = message
        if self.rollout.spec.progress_deadline_abort:
            self._abort(f"ProgressDeadlineExceeded: {message}")

    # -- 5. old ReplicaSets, counts, conditions -----------------------------------------

    def _old_replica_sets(self) -> None:
        canary = self.rollout.canary
        selected = set(self.observed.services.values())
        for rs in self.observed.replica_sets:
            if rs.pod_template_hash in self.desired.replicas:
                continue
            if rs.pod_template_hash in (self.new_hash, self.status.stable_rs):
                continue
            if rs.replicas == 0:
                if rs.scale_down_deadline is not None:
                    self.desired.scale(rs.pod_template_hash, 0, "old")
                continue
            if canary.traffic_routing is None:
                self.desired.scale(rs.pod_template_hash, 0, "old")
                continue
            if rs.pod_template_hash in selected and rs.pod_template_hash not in \
                    self.desired.services.values():
                # A Service still selects it until this decision's actions move it.
                self.desired.scale(rs.pod_template_hash, rs.replicas, "old")
                continue
            deadline = rs.scale_down_deadline or (
                self.now + timedelta(seconds=canary.scale_down_delay))
            if self.now >= deadline:
                self.desired.scale(rs.pod_template_hash, 0, "old")
            else:
                self.desired.scale(rs.pod_template_hash, rs.replicas, "old", deadline)
                self.requeues.append((deadline - self.now).total_seconds())

    def _counts(self) -> tuple[int, int, int]:
        new = self.observed.replica_set(self.new_hash)
        return (new.replicas if new else 0,
                sum(rs.ready_replicas for rs in self.observed.replica_sets),
                sum(rs.available_replicas for rs in self.observed.replica_sets))

    def _old_weight(self) -> float | None:
        weights = self.old.canary.weights if self.old.canary else None
        return weights.canary.weight if weights else None

    def _weights_status(self) -> TrafficWeights | None:
        canary = self.rollout.canary
        weight = self.desired.canary_weight
        if canary.traffic_routing is None or weight is None:
            return None
        verify = verifies_weights(self.rollout)
        routes = [r for r in self.observed.routes if r.exists]
        verified = bool(routes) and len(routes) == len(self.observed.routes) and all(
            r.carries(weight) and (r.verified or not verify) for r in routes)
        return TrafficWeights(
            canary=WeightDestination(weight=weight, pod_template_hash=self.new_hash,
                                     service_name=canary.canary_service),
            stable=WeightDestination(weight=max_weight(self.rollout) - weight,
                                     pod_template_hash=self.status.stable_rs,
                                     service_name=canary.stable_service),
            verified=verified)

    def _finish(self) -> Decision:
        st = self.status
        spec = self.rollout.spec
        st.replicas = sum(rs.replicas for rs in self.observed.replica_sets)
        st.updated_replicas, st.ready_replicas, st.available_replicas = self._counts()
        labels = spec.selector.match_labels if spec.selector else None
        st.selector = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or None
        canary_status = st.canary or CanaryStatus()
        canary_status.weights = self._weights_status()
        if self.new_hash == st.stable_rs:
            canary_status.current_step_analysis_run_status = None
            canary_status.current_background_analysis_run_status = None
        st.canary = canary_status
        max_unavailable = resolve_int_or_percent(self.rollout.canary.max_unavailable,
                                                 spec.replicas, round_up=False)
        deadline_message = self.deadline_message
        facts = Facts(
            invalid_spec=None,
            aborted=bool(st.abort),
            abort_message=self.abort_message,
            paused=self.paused,
            completed=self.new_hash == st.stable_rs,
            available=(st.available_replicas or 0) >= spec.replicas - max_unavailable,
            available_replicas=st.available_replicas or 0,
            replicas=spec.replicas,
            deadline_exceeded=deadline_message is not None,
            progressed=self._progressed(),
            new_replica_set=self.new_replica_set,
            progress_message=deadline_message or "; ".join(self.waits) or "Rollout is progressing",
        )
        st.conditions = derive_conditions(self.old.conditions or [], facts, self.now)
        st.phase = derive_phase(st.conditions)  # type: ignore[assignment]
        if st.abort:
            st.message = f"RolloutAborted: {self.abort_message}"
        elif deadline_message is not None:
            st.message = f"ProgressDeadlineExceeded: {deadline_message}"
        else:
            st.message = "; ".join(self.waits) or None
        actions = plan_actions(self.desired, self.observed) + tuple(housekeeping(
            self.rollout, self.observed,
            keep_replica_sets={self.new_hash, st.stable_rs or "", *self.desired.replicas},
            keep_runs=self.wanted_runs | set(self._running_runs()),
            promoted=facts.completed and facts.available)) + self.restart.actions
        weight_events = tuple(
            EmitEvent(Reason.WEIGHT_CHANGED,
                      f"Traffic weight set to {a.canary_weight:g}% canary "
                      f"({a.canary_hash}), {max_weight(self.rollout) - a.canary_weight:g}% "
                      f"stable ({a.stable_hash})")
            for a in actions if isinstance(a, SetWeight))
        requeue = min(self.requeues) if self.requeues else None
        return Decision(status=st, actions=actions + weight_events, requeue_after=requeue)

    def _invalid(self, message: str) -> Decision:
        return Decision(status=invalid_status(self.status, message, self.now), actions=(),
                        requeue_after=None)

