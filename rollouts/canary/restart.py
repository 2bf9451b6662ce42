"""spec.restartAt: restart every pod created before that time, a few at a time.

As Argo does: once ``now`` has reached restartAt, pods older than it are deleted (their
ReplicaSets start fresh ones), never more at once than maxUnavailable allows and only
while the others are ready; when none is left, status.restartedAt records the restart
as done. Pure, like the rest of the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rollouts.api.base import resolve_int_or_percent
from rollouts.api.rollout import Rollout, RolloutStatus
from rollouts.canary.types import Action, DeletePod, Observed

__all__ = ["RestartPlan", "restart_pending", "restart_pods"]


@dataclass(frozen=True)
class RestartPlan:
    actions: tuple[Action, ...]
    waiting: str | None
    """What the restart waits for (None when no restart is under way)."""
    requeue_after: float | None = None


def restart_pending(rollout: Rollout, status: RolloutStatus | None) -> bool:
    """Whether spec.restartAt asks for a restart that ``status`` has not recorded as done
    (only then does the decision need ``Observed.pods``)."""
    restart_at = rollout.spec.restart_at
    return restart_at is not None and (status is None or status.restarted_at != restart_at)


def restart_pods(rollout: Rollout, status: RolloutStatus, observed: Observed,
                 now: datetime) -> RestartPlan:
    """Pods to delete now for spec.restartAt, updating ``status.restarted_at`` when done."""
    restart_at = rollout.spec.restart_at
    if restart_at is None or not restart_pending(rollout, status):
        return RestartPlan((), None)
    if now < restart_at:
        return RestartPlan((), None, (restart_at - now).total_seconds())
    stale = sorted((p for p in observed.pods if p.created_at < restart_at),
                   key=lambda p: (p.created_at, p.name))
    if not stale:
        status.restarted_at = restart_at
        return RestartPlan((), None)
    budget = max(1, resolve_int_or_percent(rollout.canary.max_unavailable,
                                           rollout.spec.replicas, round_up=False))
    unready = sum(1 for pod in observed.pods if not pod.ready)
    room = budget - unready
    waiting = f"restarting pods created before {restart_at.isoformat()}: {len(stale)} left"
    if room <= 0:
        return RestartPlan((), waiting)
    return RestartPlan(tuple(DeletePod(pod.name) for pod in stale[:room]), waiting)
