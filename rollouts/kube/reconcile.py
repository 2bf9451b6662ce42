"""One reconcile of one Rollout: read, observe, decide, act, write the status once.

This is the whole operator loop for a Rollout, minus the scheduling (``handlers``).
It returns when to look again. Nothing here decides anything: the decision core does.
The new status is written before the actions are carried out (see ``reconcile``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from rollouts.api.rollout import Rollout, RolloutStatus
from rollouts.api.validation import parse_object
from rollouts.canary.conditions import invalid_status
from rollouts.canary.decide import decide
from rollouts.canary.types import EmitEvent
from rollouts.kube import names
from rollouts.kube.api import ApiError, Conflict, Kube, without_managed_fields
from rollouts.kube.dataplane import DataPlane
from rollouts.kube.executor import Executor
from rollouts.kube.observe import observe
from rollouts.kube.status import merge_patch

__all__ = ["ERROR_RETRY_SECONDS", "Outcome", "reconcile"]

ERROR_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    requeue_after: float | None
    error: str | None = None
    routes: tuple[tuple[str, str], ...] = ()
    """(namespace, name) of the routes the Rollout uses, for wake-ups on route events."""


def _status_write(kube: Kube, document: dict[str, Any], new_status: dict[str, Any]) -> bool:
    """Write the status difference; False if the Rollout changed meanwhile (conflict)."""
    patch = merge_patch(document.get("status") or {}, new_status)
    if not patch:
        return True
    meta = document["metadata"]
    try:
        kube.patch(names.ROLLOUT, meta["name"], {
            "metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": patch},
            meta.get("namespace"), status=True)
    except Conflict:
        return False
    return True


def _invalid_document(kube: Kube, document: dict[str, Any], problems: str,
                      now: datetime) -> Outcome:
    """A Rollout the models cannot even read: InvalidSpec, as the core would say."""
    try:
        old = RolloutStatus.model_validate(document.get("status") or {})
    except ValidationError:
        old = RolloutStatus()
    _status_write(kube, document, invalid_status(old, problems, now).to_dict())
    return Outcome(None, problems)


def reconcile(kube: Kube, namespace: str, name: str, now: datetime | None = None,
              data_plane: DataPlane | None = None) -> Outcome:
    """Reconcile the Rollout ``namespace/name`` once."""
    now = now or datetime.now(UTC)
    document = kube.find(names.ROLLOUT, name, namespace)
    if document is None or (document.get("metadata") or {}).get("deletionTimestamp"):
        return Outcome(None)
    rollout, problems = parse_object(without_managed_fields(document))
    if not isinstance(rollout, Rollout):
        return _invalid_document(kube, document, "; ".join(map(str, problems)), now)
    observed = observe(kube, rollout, data_plane)
    decision = decide(rollout, observed, now)
    routes = tuple((view.namespace, view.name) for view in observed.routes)
    status = decision.status.to_dict()
    # The status goes first, guarded by the resourceVersion we read: a user's patch
    # (abort, promote) made meanwhile makes it conflict, and then nothing stale is done;
    # and the step index never lags behind the traffic the actions are about to move.
    if not _status_write(kube, document, status):
        return Outcome(0.0, None, routes)
    template = dict(observed.template) if observed.template is not None \
        else rollout.spec.template
    revision = 1 + max((rs.revision for rs in observed.replica_sets), default=0)
    executor = Executor(kube, rollout, document, template, revision, now)
    failure = executor.run(decision.actions)
    if failure is not None:
        message = f"{status.get('message') or ''}; {failure}".lstrip("; ")
        with contextlib.suppress(ApiError):
            kube.patch(names.ROLLOUT, name, {"status": {"message": message}}, namespace,
                       status=True)
        executor.run([EmitEvent("ReconcileError", failure, "Warning")])
        return Outcome(ERROR_RETRY_SECONDS, failure, routes)
    if decision.actions:
        # Our own writes come back as watch events; look again soon in case they do not.
        return Outcome(min(decision.requeue_after or 2.0, 2.0), None, routes)
    return Outcome(decision.requeue_after, None, routes)
