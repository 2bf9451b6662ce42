"""What a step waits on besides traffic: pauses and analysis runs.

The state every part of the decision shares lives here too (``Gates.__init__``), so
the recipe in ``decide`` reads as the steps it takes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollouts.api.analysis import TERMINAL_ANALYSIS_PHASES
from rollouts.api.base import duration_seconds
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
)
from rollouts.canary.plan import Desired
from rollouts.canary.restart import RestartPlan
from rollouts.canary.types import (
    CreateAnalysisRun,
    Observed,
)

__all__ = ["Gates"]

class Gates:
    """Decision state, pauses and analysis gates (the recipe builds on it)."""

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
        return [run.name for run in self.observed.analysis_runs
                if run.phase not in TERMINAL_ANALYSIS_PHASES]

    def _abort(self, message: str) -> None:
        raise NotImplementedError
