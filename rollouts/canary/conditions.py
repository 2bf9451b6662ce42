"""Conditions and the phase, derived from what the decision found; never set by hand.

The recipe reports facts (``Facts``); this module turns them into Argo-style
conditions, keeps transition times stable when nothing changed, and derives the
phase from the conditions alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rollouts.api import reasons
from rollouts.api.base import Condition
from rollouts.api.reasons import Reason
from rollouts.api.rollout import RolloutStatus

__all__ = ["Facts", "derive_conditions", "derive_phase", "invalid_status"]


@dataclass(frozen=True)
class Facts:
    """What the decision established about the Rollout this time."""

    invalid_spec: str | None
    aborted: bool
    abort_message: str
    paused: bool
    completed: bool
    available: bool
    available_replicas: int
    replicas: int
    deadline_exceeded: bool
    progressed: bool
    new_replica_set: bool
    progress_message: str


def _set(
    old: list[Condition],
    now: datetime,
    type_: str,
    status: str,
    reason: str,
    message: str,
    *,
    touch: bool = False,
) -> Condition:
    """A condition that keeps its times unless its status (or reason) changed."""
    previous = next((c for c in old if c.type == type_), None)
    if previous is not None and previous.status == status and previous.reason == reason:
        return Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=previous.last_transition_time,
            last_update_time=now if touch else previous.last_update_time,
        )
    return Condition(
        type=type_, status=status, reason=reason, message=message,
        last_transition_time=now, last_update_time=now,
    )


def derive_conditions(old: list[Condition], facts: Facts, now: datetime) -> list[Condition]:
    """The whole condition list for this decision, in a fixed order."""
    conditions: list[Condition] = []
    if facts.invalid_spec is not None:
        conditions.append(_set(old, now, reasons.INVALID_SPEC, "True", Reason.INVALID_SPEC,
                               facts.invalid_spec))
        return conditions + [c for c in old if c.type != reasons.INVALID_SPEC]

    if facts.aborted:
        progressing = _set(old, now, reasons.PROGRESSING, "False", Reason.ROLLOUT_ABORTED,
                           facts.abort_message)
    elif facts.deadline_exceeded:
        progressing = _set(old, now, reasons.PROGRESSING, "False",
                           Reason.PROGRESS_DEADLINE_EXCEEDED, facts.progress_message)
    elif facts.completed:
        progressing = _set(old, now, reasons.PROGRESSING, "True",
                           Reason.NEW_REPLICA_SET_AVAILABLE, "Rollout is healthy")
    elif facts.paused:
        progressing = _set(old, now, reasons.PROGRESSING, "Unknown", Reason.ROLLOUT_PAUSED,
                           facts.progress_message)
    else:
        reason = (Reason.NEW_REPLICA_SET_CREATED if facts.new_replica_set
                  else Reason.REPLICA_SET_UPDATED)
        progressing = _set(old, now, reasons.PROGRESSING, "True", reason,
                           facts.progress_message, touch=facts.progressed)
    conditions.append(progressing)

    if facts.available:
        conditions.append(_set(old, now, reasons.AVAILABLE, "True", Reason.AVAILABLE,
                               "Rollout has minimum availability"))
    else:
        conditions.append(_set(old, now, reasons.AVAILABLE, "False", Reason.NOT_AVAILABLE,
                               f"{facts.available_replicas} of {facts.replicas} pods available"))
    if facts.paused:
        conditions.append(_set(old, now, reasons.PAUSED, "True", Reason.ROLLOUT_PAUSED,
                               facts.progress_message))
    else:
        conditions.append(_set(old, now, reasons.PAUSED, "False", Reason.ROLLOUT_RESUMED,
                               "Rollout is not paused"))
    if facts.completed:
        conditions.append(_set(old, now, reasons.COMPLETED, "True", Reason.ROLLOUT_COMPLETED,
                               "Rollout completed update to the current revision"))
    else:
        conditions.append(_set(old, now, reasons.COMPLETED, "False",
                               Reason.ROLLOUT_NOT_COMPLETED, "Rollout is updating"))
    healthy = (facts.completed and facts.available and not facts.paused
               and facts.available_replicas >= facts.replicas)
    if healthy:
        conditions.append(_set(old, now, reasons.HEALTHY, "True", Reason.ROLLOUT_HEALTHY,
                               "Rollout is healthy"))
    else:
        conditions.append(_set(old, now, reasons.HEALTHY, "False", Reason.ROLLOUT_NOT_HEALTHY,
                               "Rollout is not healthy"))
    return conditions


def _status(conditions: list[Condition], type_: str) -> tuple[str | None, str | None]:
    for condition in conditions:
        if condition.type == type_:
            return condition.status, condition.reason
    return None, None


def derive_phase(conditions: list[Condition]) -> str:
    """Healthy, Progressing, Paused or Degraded, from the conditions alone."""
    if _status(conditions, reasons.INVALID_SPEC)[0] == "True":
        return "Degraded"
    status, reason = _status(conditions, reasons.PROGRESSING)
    if status == "False" and reason in (Reason.ROLLOUT_ABORTED,
                                        Reason.PROGRESS_DEADLINE_EXCEEDED):
        return "Degraded"
    if _status(conditions, reasons.PAUSED)[0] == "True":
        return "Paused"
    if _status(conditions, reasons.HEALTHY)[0] == "True":
        return "Healthy"
    return "Progressing"


def invalid_status(old: RolloutStatus, message: str, now: datetime) -> RolloutStatus:
    """The status of a Rollout whose spec is invalid: InvalidSpec, Degraded, the problems."""
    status = old.model_copy(deep=True)
    facts = Facts(invalid_spec=message, aborted=False, abort_message="", paused=False,
                  completed=False, available=False, available_replicas=0, replicas=0,
                  deadline_exceeded=False, progressed=False, new_replica_set=False,
                  progress_message="")
    status.conditions = derive_conditions(old.conditions or [], facts, now)
    status.phase = derive_phase(status.conditions)  # type: ignore[assignment]
    status.message = f"InvalidSpec: {message}"
    return status
