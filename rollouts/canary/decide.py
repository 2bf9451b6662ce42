"""The canary decision: one pure function from (Rollout, observed world, now) to
(new status, actions, when to look again).

It reads like a recipe, top to bottom:
1. an invalid spec stops here with an InvalidSpec condition;
2. a new pod template starts a canary at step 0 (a template equal to the stable one is
   a fast rollback with no steps); a steps change restarts at step 0; a cleared abort
   is a retry;
3. the first revision ever becomes stable at once;
4. then exactly one of: fully promoted, aborted, or progressing through the steps
   (each step waits for what it needs: ready pods, applied weights, time, analysis);
5. old ReplicaSets scale down after their delay; counts, conditions and the phase are
   derived; the planner turns the desired state into ordered actions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollouts.api.reasons import Reason
from rollouts.api.rollout import (
    CanaryStatus,
    Rollout,
)
from rollouts.api.validation import validate_rollout
from rollouts.canary.hashing import pod_template_hash, steps_hash
from rollouts.canary.outcome import Outcome
from rollouts.canary.plan import Desired
from rollouts.canary.restart import restart_pods
from rollouts.canary.routing import managed_route_names
from rollouts.canary.steps import step_label
from rollouts.canary.targets import TrafficState, traffic_state
from rollouts.canary.types import (
    Decision,
    Observed,
)

__all__ = ["decide"]

_VERIFY_POLL_SECONDS = 1.0


def decide(rollout: Rollout, observed: Observed, now: datetime) -> Decision:
    """What to do next for ``rollout``, given what was ``observed`` at ``now``."""
    return _Recipe(rollout, observed, now).run()


class _Recipe(Outcome):
    # -- the recipe ---------------------------------------------------------------------

    def run(self) -> Decision:
        problems = validate_rollout(self.rollout)
        template = (self.observed.template if self.observed.template is not None
                    else self.rollout.spec.template)
        if not problems and template is None:
            ref = self.rollout.spec.workload_ref
            return self._invalid(f"spec.workloadRef: {ref.kind if ref else 'workload'} "
                                 f"{ref.name if ref else ''} not found")
        if problems:
            return self._invalid("; ".join(str(p) for p in problems))
        assert template is not None
        self.new_hash = pod_template_hash(template)
        self.new_replica_set = self.observed.replica_set(self.new_hash) is None
        self._track_revision()
        if self.status.stable_rs is None:
            self.status.stable_rs = self.new_hash
            self._skip_all_steps()
        if self.new_hash == self.status.stable_rs:
            self._fully_promoted()
        elif self.status.abort:
            self._aborted()
        else:
            self._progress()
            self._check_progress_deadline()
        self._old_replica_sets()
        self.restart = restart_pods(self.rollout, self.status, self.observed, self.now)
        if self.restart.waiting:
            self.waits.append(self.restart.waiting)
        if self.restart.requeue_after is not None:
            self.requeues.append(self.restart.requeue_after)
        return self._finish()

    # -- 2. revisions, steps changes and retries ----------------------------------------

    def _track_revision(self) -> None:
        st = self.status
        step_hash = steps_hash([s.to_dict() for s in self.steps])
        if st.current_pod_hash != self.new_hash:
            if st.current_pod_hash is not None:
                self.desired.event(Reason.ROLLOUT_UPDATED,
                                   f"Rollout updated to pod template {self.new_hash}")
            st.current_pod_hash = self.new_hash
            self._reset_progress(attempt=0)
            if st.stable_rs is not None and (self.new_hash == st.stable_rs
                                             or self._within_rollback_window()):
                self._skip_all_steps()
                self.desired.event(Reason.FAST_ROLLBACK,
                                   f"Rolling back to {self.new_hash}: skipping all steps")
            st.current_step_hash = step_hash
        elif st.current_step_hash != step_hash:
            st.current_step_hash = step_hash
            if self.new_hash != st.stable_rs:
                self._reset_progress(attempt=(st.canary.attempt if st.canary else 0))
            else:
                self._skip_all_steps()
        elif not st.abort and st.aborted_at is not None and self.new_hash != st.stable_rs:
            attempt = (st.canary.attempt if st.canary else 0) + 1
            self._reset_progress(attempt=attempt)
            self.desired.event(Reason.ROLLOUT_RETRIED, "Rollout retried from step 1")

    def _reset_progress(self, *, attempt: int) -> None:
        st = self.status
        st.abort = None
        st.aborted_at = None
        st.promote_full = None
        st.pause_conditions = None
        st.controller_pause = None
        weights = st.canary.weights if st.canary else None
        st.canary = CanaryStatus(weights=weights, attempt=attempt)
        st.current_step_index = 0 if self.steps else None

    def _skip_all_steps(self) -> None:
        """Put the step index past the last step (None for a Rollout without steps)."""
        self.status.current_step_index = len(self.steps) if self.steps else None

    def _within_rollback_window(self) -> bool:
        window = self.rollout.spec.rollback_window
        if window is None or window.revisions == 0:
            return False
        revisions = sorted((rs.revision for rs in self.observed.replica_sets), reverse=True)
        recent = set(revisions[1:window.revisions + 1])
        target = self.observed.replica_set(self.new_hash)
        return target is not None and target.revision in recent

    # -- 4a. fully promoted -------------------------------------------------------------

    def _fully_promoted(self) -> None:
        st = self.status
        canary = self.rollout.canary
        self.desired.scale(self.new_hash, self.rollout.spec.replicas, "stable")
        self._route_everything_to(self.new_hash)
        self.desired.canary_weight = 0.0 if canary.traffic_routing else None
        self._remove_managed_routes()
        self.desired.terminate_runs += self._running_runs()
        self._skip_all_steps()
        st.pause_conditions = None
        st.controller_pause = None
        st.promote_full = None
        st.abort = None
        st.aborted_at = None
        self.paused = self.rollout.spec.paused
        if self.paused:
            self.waits.append("paused by the user (spec.paused)")

    def _route_everything_to(self, pod_hash: str) -> None:
        canary = self.rollout.canary
        for service in (canary.stable_service, canary.canary_service):
            if service:
                self.desired.services[service] = pod_hash
        self.desired.canary_hash = self.new_hash
        self.desired.stable_hash = self.status.stable_rs

    # -- 4b. aborted --------------------------------------------------------------------

    def _abort(self, message: str) -> None:
        """Abort now: drop what progressing wanted and send all traffic back to stable."""
        self.status.abort = True
        self.status.aborted_at = None
        self.abort_message = message
        self.desired = Desired(events=[e for e in self.desired.events])
        self.waits = []
        self.paused = False
        self._aborted()

    def _aborted(self) -> None:
        st = self.status
        canary = self.rollout.canary
        if st.aborted_at is None:
            st.aborted_at = self.now
            self.abort_message = self.abort_message or "Rollout aborted by the user"
            self.desired.event(Reason.ROLLOUT_ABORTED, self.abort_message, warning=True)
        elif not self.abort_message:
            self.abort_message = self._old_abort_message()
        assert st.stable_rs is not None
        self.desired.scale(st.stable_rs, self.rollout.spec.replicas, "stable")
        if canary.stable_service:
            self.desired.services[canary.stable_service] = st.stable_rs
        self.desired.canary_hash = self.new_hash
        self.desired.stable_hash = st.stable_rs
        if canary.traffic_routing is not None:
            self.desired.canary_weight = 0.0
            self._remove_managed_routes()
        self.desired.terminate_runs += self._running_runs()
        rs = self.observed.replica_set(self.new_hash)
        if rs is not None and rs.replicas > 0:
            delay = canary.abort_scale_down_delay_seconds
            if canary.traffic_routing is None:
                self.desired.scale(self.new_hash, 0, "canary")
            elif delay > 0:
                deadline = st.aborted_at + timedelta(seconds=delay)
                if self.now >= deadline:
                    self.desired.scale(self.new_hash, 0, "canary")
                else:
                    self.requeues.append((deadline - self.now).total_seconds())

    def _old_abort_message(self) -> str:
        for condition in self.old.conditions or []:
            if condition.reason == Reason.ROLLOUT_ABORTED and condition.message:
                return condition.message
        return "Rollout aborted by the user"

    # -- 4c. progressing through the steps ----------------------------------------------

    def _progress(self) -> None:
        st = self.status
        steps = self.steps
        index = min(st.current_step_index or 0, len(steps))
        if st.promote_full:
            index = len(steps)
        while True:
            if self.status.abort:
                return
            if index >= len(steps):
                self._complete()
                break
            done = self._step(index)
            if self.status.abort:
                return
            if not done:
                break
            if self.rollout.spec.paused:
                self.waits.insert(0, "paused by the user (spec.paused)")
                self.paused = True
                break
            self.desired.event(Reason.STEP_COMPLETED,
                               f"Step {index + 1} of {len(steps)} completed "
                               f"({step_label(steps[index])})")
            self._clear_pause(Reason.CANARY_PAUSE_STEP, Reason.INCONCLUSIVE_ANALYSIS)
            st.controller_pause = None
            index += 1
        if self.status.abort:
            return
        st.current_step_index = index if steps else None
        if self.rollout.spec.paused and not self.paused:
            self.paused = True
            self.waits.insert(0, "paused by the user (spec.paused)")
        self._background_analysis(index)
        if not self.status.abort:
            self.desired.terminate_runs += [name for name in self._running_runs()
                                            if name not in self.wanted_runs]

    def _step(self, index: int) -> bool:
        step = self.steps[index]
        label = f"step {index + 1} of {len(self.steps)} ({step_label(step)})"
        traffic = self._traffic(index, full=False)
        if step.pause is not None:
            return self._pause_step(index, step.pause)
        if step.analysis is not None:
            return self._analysis_step(index, step.analysis, label)
        if traffic.applied:
            return True
        self.waits.append(f"{label}: {traffic.message}")
        if traffic.poll:
            self.requeues.append(_VERIFY_POLL_SECONDS)
        return False

    def _complete(self) -> None:
        """All steps done: full weight on a fully scaled canary, then promote it."""
        traffic = self._traffic(len(self.steps), full=True)
        if self.status.promote_full:
            self.desired.terminate_runs += self._running_runs()
        if not traffic.applied:
            self.waits.append(f"promoting: {traffic.message}")
            if traffic.poll:
                self.requeues.append(_VERIFY_POLL_SECONDS)
            return
        self.desired.event(Reason.ROLLOUT_PROMOTED,
                           f"Promoted {self.new_hash} to stable (was {self.status.stable_rs})")
        self.status.stable_rs = self.new_hash
        self.desired = Desired(events=list(self.desired.events))
        self.waits = []
        self._fully_promoted()

    def _traffic(self, index: int, *, full: bool) -> TrafficState:
        state = traffic_state(self.rollout, self.observed, self.new_hash,
                              self.status.stable_rs or self.new_hash, index, full=full)
        self.desired.replicas.update(state.desired.replicas)
        self.desired.services.update(state.desired.services)
        self.desired.canary_weight = state.desired.canary_weight
        self.desired.canary_hash = self.new_hash
        self.desired.stable_hash = self.status.stable_rs
        self.desired.managed_route_names = state.desired.managed_route_names
        self.desired.header_routes = state.desired.header_routes
        self.desired.mirror_routes = state.desired.mirror_routes
        return state

    def _remove_managed_routes(self) -> None:
        """No header or mirror route stays (fully promoted, or aborted)."""
        self.desired.managed_route_names = managed_route_names(self.rollout)
        self.desired.header_routes = {}
        self.desired.mirror_routes = {}

