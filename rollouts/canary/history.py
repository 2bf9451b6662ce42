"""Housekeeping the decision also owns: old ReplicaSets beyond revisionHistoryLimit,
finished AnalysisRuns beyond the run history limits, and the workloadRef'd Deployment
scaled down by its scaleDown policy. Pure, like the rest of the core."""

from __future__ import annotations

from datetime import UTC, datetime

from rollouts.api.analysis import TERMINAL_ANALYSIS_PHASES, AnalysisPhase
from rollouts.api.rollout import Rollout
from rollouts.canary.types import (
    Action,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    Observed,
    ScaleWorkload,
)

__all__ = ["housekeeping"]

_SUCCESS: frozenset[AnalysisPhase] = frozenset({"Successful"})
#: Failed, Error and Inconclusive: every finished run counts toward exactly one limit
_UNSUCCESSFUL = TERMINAL_ANALYSIS_PHASES - _SUCCESS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _old_replica_sets(rollout: Rollout, observed: Observed, keep: set[str]) -> list[Action]:
    idle = [rs for rs in observed.replica_sets
            if rs.pod_template_hash not in keep and rs.replicas == 0
            and rs.scale_down_deadline is None]
    idle.sort(key=lambda rs: (rs.revision, rs.pod_template_hash), reverse=True)
    limit = rollout.spec.revision_history_limit
    return [DeleteReplicaSet(rs.pod_template_hash) for rs in idle[limit:]]


def _old_runs(rollout: Rollout, observed: Observed, keep: set[str]) -> list[Action]:
    history = rollout.spec.analysis
    limits = {_SUCCESS: history.successful_run_history_limit if history else 5,
              _UNSUCCESSFUL: history.unsuccessful_run_history_limit if history else 5}
    actions: list[Action] = []
    for phases, limit in limits.items():
        done = [run for run in observed.analysis_runs
                if run.phase in phases and run.name not in keep]
        done.sort(key=lambda run: (run.created_at or _EPOCH, run.name), reverse=True)
        actions += [DeleteAnalysisRun(run.name) for run in done[limit:]]
    return actions


def _workload(rollout: Rollout, observed: Observed, promoted: bool) -> list[Action]:
    ref = rollout.spec.workload_ref
    if ref is None or observed.workload_replicas is None or ref.scale_down == "never":
        return []
    if ref.scale_down == "onsuccess":
        wanted = 0 if promoted else observed.workload_replicas
    else:  # progressively: give up a Deployment pod for each available Rollout pod
        available = sum(rs.available_replicas for rs in observed.replica_sets)
        wanted = max(0, min(observed.workload_replicas, rollout.spec.replicas - available))
    return [ScaleWorkload(wanted)] if wanted != observed.workload_replicas else []


def housekeeping(rollout: Rollout, observed: Observed, *, keep_replica_sets: set[str],
                 keep_runs: set[str], promoted: bool) -> list[Action]:
    """Deletions and workload scaling that this decision calls for."""
    return (_workload(rollout, observed, promoted)
            + _old_replica_sets(rollout, observed, keep_replica_sets)
            + _old_runs(rollout, observed, keep_runs))
