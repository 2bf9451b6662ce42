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

from rollouts.api.base import duration_seconds, resolve_int_or_percent
from rollouts.api.reasons import Reason
from rollouts.api.rollout import (
    AnalysisRunArgument,
    CanaryStatus,
    PauseCondition,
    Rollout,
    RolloutAnalysis,
    RolloutAnalysisRunStatus,
    RolloutPause,
    RolloutStatus,
    TrafficWeights,
    WeightDestination,
)
from rollouts.api.validation import validate_rollout
from rollouts.canary.conditions import Facts, derive_conditions, derive_phase
from rollouts.canary.hashing import pod_template_hash, steps_hash
from rollouts.canary.history import housekeeping
from rollouts.canary.plan import Desired, plan_actions
from rollouts.canary.restart import RestartPlan, restart_pods
from rollouts.canary.steps import (
    max_weight,
    step_label,
)
from rollouts.canary.targets import TrafficState, traffic_state
from rollouts.canary.types import (
    CreateAnalysisRun,
    Decision,
    EmitEvent,
    Observed,
    SetWeight,
)

__all__ = ["decide"]

_TERMINAL = ("Successful", "Failed", "Error", "Inconclusive")
_VERIFY_POLL_SECONDS = 1.0


def decide(rollout: Rollout, observed: Observed, now: datetime) -> Decision:
    """What to do next for ``rollout``, given what was ``observed`` at ``now``."""
    return _Recipe(rollout, observed, now).run()


class _Recipe:
    def __init__(self, rollout: Rollout, observed: Observed, now: datetime) -> None:
        self.rollout = rollout
        self.observed = observed
        self.now = now
        self.old = rollout.status or RolloutStatus()
        self.status = self.old.model_copy(deep=True)
        self.status.observed_generation = rollout.metadata.generation
        self.steps = rollout.steps
        self.desired = Desired()
        self.waits: list[str] = []
        self.requeues: list[float] = []
        self.paused = False
        self.abort_message = ""
        self.new_hash = ""
        self.new_replica_set = False
        self.deadline_message: str | None = None
        self.wanted_runs: set[str] = set()
        self.restart = RestartPlan((), None)

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
            self.status.current_step_index = len(self.steps) if self.steps else None
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
                st.current_step_index = len(self.steps) if self.steps else None
                self.desired.event(Reason.FAST_ROLLBACK,
                                   f"Rolling back to {self.new_hash}: skipping all steps")
            st.current_step_hash = step_hash
        elif st.current_step_hash != step_hash:
            st.current_step_hash = step_hash
            if self.new_hash != st.stable_rs:
                self._reset_progress(attempt=(st.canary.attempt if st.canary else 0))
            else:
                st.current_step_index = len(self.steps) if self.steps else None
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
        self._manage_routes(header={}, mirror={})
        self.desired.terminate_runs += self._running_runs()
        st.current_step_index = len(self.steps) if self.steps else None
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
            self._manage_routes(header={}, mirror={})
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

    def _manage_routes(self, *, header: dict, mirror: dict) -> None:  # type: ignore[type-arg]
        routing = self.rollout.canary.traffic_routing
        names = tuple(r.name for r in (routing.managed_routes or [])) if routing else ()
        self.desired.managed_route_names = names
        self.desired.header_routes = header
        self.desired.mirror_routes = mirror

    # -- pauses -------------------------------------------------------------------------

    def _pause_condition(self, reason: str) -> PauseCondition | None:
        return next((p for p in self.status.pause_conditions or [] if p.reason == reason), None)

    def _clear_pause(self, *reasons: str) -> None:
        kept = [p for p in self.status.pause_conditions or [] if p.reason not in reasons]
        self.status.pause_conditions = kept or None

    def _add_pause(self, reason: str) -> PauseCondition:
        existing = self._pause_condition(reason)
        if existing is not None:
            return existing
        condition = PauseCondition(reason=reason, start_time=self.now)
        self.status.pause_conditions = [*(self.status.pause_conditions or []), condition]
        self.status.controller_pause = True
        return condition

    def _resumed(self, reason: str) -> bool:
        """The controller paused here and the user cleared the pause: go on."""
        return bool(self.status.controller_pause) and self._pause_condition(reason) is None

    def _pause_step(self, index: int, pause: RolloutPause) -> bool:
        where = f"paused at step {index + 1} of {len(self.steps)}"
        if self._resumed(Reason.CANARY_PAUSE_STEP):
            return True
        condition = self._add_pause(Reason.CANARY_PAUSE_STEP)
        if pause.duration is not None:
            end = condition.start_time + timedelta(seconds=duration_seconds(pause.duration))
            remaining = (end - self.now).total_seconds()
            if remaining <= 0:
                return True
            self.requeues.append(remaining)
            self.waits.append(f"{where}: resuming in {remaining:.0f}s")
        else:
            self.waits.append(f"{where}: waiting for promote")
        self.paused = True
        return False

    # -- analysis -----------------------------------------------------------------------

    def _run_name(self, suffix: str) -> str:
        attempt = self.status.canary.attempt if self.status.canary else 0
        name = f"{self.rollout.metadata.name}-{self.new_hash}-{suffix}"
        return f"{name}-retry{attempt}" if attempt else name

    def _resolved_args(self, analysis: RolloutAnalysis) -> tuple[AnalysisRunArgument, ...]:
        args = []
        for arg in analysis.args or []:
            source = arg.value_from.pod_template_hash_value if arg.value_from else None
            if source is not None:
                value = self.new_hash if source == "Latest" else self.status.stable_rs
                args.append(AnalysisRunArgument(name=arg.name, value=value))
            else:
                args.append(arg)
        return tuple(args)

    def _ensure_run(self, name: str, kind: str, analysis: RolloutAnalysis,
                    index: int | None) -> RolloutAnalysisRunStatus:
        self.wanted_runs.add(name)
        run = self.observed.analysis_run(name)
        if run is None:
            self.desired.create_runs.append(CreateAnalysisRun(
                name=name, kind=kind,  # type: ignore[arg-type]
                pod_template_hash=self.new_hash, templates=tuple(analysis.templates),
                args=self._resolved_args(analysis), step_index=index))
            self.desired.event(Reason.ANALYSIS_RUN_CREATED, f"Created AnalysisRun {name}")
            return RolloutAnalysisRunStatus(name=name, status="Pending")
        return RolloutAnalysisRunStatus(name=name, status=run.phase, message=run.message or None)

    def _verdict(self, run: RolloutAnalysisRunStatus, old: RolloutAnalysisRunStatus | None,
                 where: str) -> bool | None:
        """True: go on; False: wait; None: the rollout was aborted or paused."""
        if old is None or old.name != run.name or old.status != run.status:
            reason = {"Successful": Reason.ANALYSIS_RUN_SUCCESSFUL,
                      "Failed": Reason.ANALYSIS_RUN_FAILED, "Error": Reason.ANALYSIS_RUN_ERROR,
                      "Inconclusive": Reason.ANALYSIS_RUN_INCONCLUSIVE}.get(run.status)
            if reason is not None:
                self.desired.event(reason, f"AnalysisRun {run.name}: {run.status}"
                                   + (f": {run.message}" if run.message else ""),
                                   warning=run.status != "Successful")
        if run.status == "Successful":
            return True
        if run.status in ("Failed", "Error"):
            verb = "failed" if run.status == "Failed" else "errored"
            self._abort(f"analysis run {run.name} {verb}"
                        + (f": {run.message}" if run.message else ""))
            return None
        if run.status == "Inconclusive":
            if self._resumed(Reason.INCONCLUSIVE_ANALYSIS):
                return True
            self._add_pause(Reason.INCONCLUSIVE_ANALYSIS)
            self.paused = True
            self.waits.append(f"{where}: analysis run {run.name} was inconclusive"
                              + (f" ({run.message})" if run.message else "")
                              + "; promote to go on or abort")
            return None
        self.waits.append(f"{where}: waiting for analysis run {run.name} ({run.status})")
        return False

    def _analysis_step(self, index: int, analysis: RolloutAnalysis, label: str) -> bool:
        name = self._run_name(f"step{index}")
        run = self._ensure_run(name, "step", analysis, index)
        canary = self.status.canary or CanaryStatus()
        old = (self.old.canary.current_step_analysis_run_status if self.old.canary else None)
        canary.current_step_analysis_run_status = run
        self.status.canary = canary
        return self._verdict(run, old, label) is True

    def _background_analysis(self, index: int) -> None:
        background = self.rollout.canary.analysis
        if background is None or index < (background.starting_step or 0):
            return
        if self.status.stable_rs == self.new_hash:
            return
        name = self._run_name("background")
        run = self._ensure_run(name, "background", background, None)
        canary = self.status.canary or CanaryStatus()
        old = (self.old.canary.current_background_analysis_run_status
               if self.old.canary else None)
        canary.current_background_analysis_run_status = run
        self.status.canary = canary
        self._verdict(run, old, "background analysis")

    def _running_runs(self) -> list[str]:
        return [run.name for run in self.observed.analysis_runs if run.phase not in _TERMINAL]

    # -- 4d. progress deadline ----------------------------------------------------------

    def _progressed(self) -> bool:
        old, new = self.old, self.status
        return (old.current_step_index != new.current_step_index
                or old.current_pod_hash != new.current_pod_hash
                or self._counts() != (old.updated_replicas, old.ready_replicas,
                                      old.available_replicas)
                or self._desired_weight() != self._old_weight())

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

    def _desired_weight(self) -> float | None:
        return self.desired.canary_weight

    def _old_weight(self) -> float | None:
        weights = self.old.canary.weights if self.old.canary else None
        return weights.canary.weight if weights else None

    def _weights_status(self) -> TrafficWeights | None:
        canary = self.rollout.canary
        weight = self.desired.canary_weight
        if canary.traffic_routing is None or weight is None:
            return None
        gateway = canary.traffic_routing.gateway_api
        verify = gateway.verify_weights if gateway else True
        routes = [r for r in self.observed.routes if r.exists]
        verified = bool(routes) and len(routes) == len(self.observed.routes) and all(
            r.canary_weight is not None and abs(r.canary_weight - weight) < 1e-9
            and (r.verified or not verify) for r in routes)
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
        st = self.status
        facts = Facts(invalid_spec=message, aborted=False, abort_message="", paused=False,
                      completed=False, available=False, available_replicas=0,
                      replicas=self.rollout.spec.replicas, deadline_exceeded=False,
                      progressed=False, new_replica_set=False, progress_message="")
        st.conditions = derive_conditions(self.old.conditions or [], facts, self.now)
        st.phase = derive_phase(st.conditions)  # type: ignore[assignment]
        st.message = f"InvalidSpec: {message}"
        return Decision(status=st, actions=(), requeue_after=None)

