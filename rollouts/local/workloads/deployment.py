"""Deployment controller: ReplicaSets per pod template, rolling update and Recreate.

A Deployment owns one ReplicaSet per distinct pod template (``pod-template-hash``
label). A rolling update scales the new ReplicaSet up within ``maxSurge`` and the old
ones down while at least ``replicas - maxUnavailable`` pods stay available; the status
(``observedGeneration``, ``updatedReplicas``, ``availableReplicas``, the ``Available`` and
``Progressing`` conditions) is what ``kubectl rollout status`` reads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

from rollouts.local.meta import now_iso, seconds_since
from rollouts.local.workloads.base import (
    Controller,
    Key,
    Obj,
    controller_key,
    controller_ref,
    owned_by,
    write_status,
)
from rollouts.local.workloads.events import record_event
from rollouts.local.workloads.replicaset import RS_KEY

__all__ = ["DeploymentController", "template_hash"]

DEPLOY_KEY = "apps/deployments"
REVISION = "deployment.kubernetes.io/revision"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _normal(value: Any) -> Any:
    """Drop nulls and empty maps/lists, which clients add or leave out at will."""
    if isinstance(value, dict):
        out = {k: _normal(v) for k, v in value.items() if k != "creationTimestamp"}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def template_hash(template: dict[str, Any]) -> str:
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.pop("pod-template-hash", None)
    template = {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}
    canonical = json.dumps(_normal(template), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def _spec_n(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _status_n(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0))


def _condition(
    prev: dict[str, Any], ctype: str, status: str, reason: str, message: str, now: str,
    refresh: bool = False,
) -> dict[str, Any]:
    """A condition that keeps ``prev``'s timestamps while they hold: the update time while
    status and reason stay (and no ``refresh`` is asked), the transition time while the
    status stays."""
    same = prev.get("status") == status and prev.get("reason") == reason
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": prev.get("lastUpdateTime", now) if same and not refresh else now,
        "lastTransitionTime": prev.get("lastTransitionTime", now)
        if prev.get("status") == status
        else now,
    }


def _int_or_percent(value: Any, total: int, round_up: bool, default: str) -> int:
    if value is None:
        value = default
    if isinstance(value, str) and value.endswith("%"):
        frac = float(value[:-1]) / 100 * total
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(value)


class DeploymentController(Controller):
    primary = DEPLOY_KEY
    watches = (DEPLOY_KEY, RS_KEY)
    _current: Obj | None = None  # the Deployment being reconciled, for events

    def keys_for(self, key: str, obj: Obj) -> list[Key]:
        if key == RS_KEY:
            return controller_key(obj, "Deployment")
        return super().keys_for(key, obj)

    def reconcile(self, ns: str, name: str) -> float | None:
        api = self.api
        dep_type = api.type_of("apps", "v1", "deployments")
        rs_type = api.type_of("apps", "v1", "replicasets")
        dep = api.store.get(DEPLOY_KEY, ns, name)
        if dep is None or dep["metadata"].get("deletionTimestamp"):
            return None
        dep["apiVersion"], dep["kind"] = "apps/v1", "Deployment"
        self._current = dep
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = copy.deepcopy(spec.get("template") or {})
        phash = template_hash(template)
        owned = [r for r in api.store.items(RS_KEY, ns) if owned_by(r, dep["metadata"]["uid"])]
        new_rs = next(
            (
                r
                for r in owned
                if (r["metadata"].get("labels") or {}).get("pod-template-hash") == phash
            ),
            None,
        )
        old = [r for r in owned if r is not new_rs]
        revisions = [
            int((r["metadata"].get("annotations") or {}).get(REVISION, "0")) for r in owned
        ]
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        ru = strategy.get("rollingUpdate") or {}
        surge = 0 if recreate else _int_or_percent(ru.get("maxSurge"), replicas, True, "25%")
        unavailable = (
            0 if recreate else _int_or_percent(ru.get("maxUnavailable"), replicas, False, "25%")
        )
        if not recreate and surge == 0 and unavailable == 0:
            unavailable = 1
        if new_rs is None:
            labels = {
                **(template.get("metadata") or {}).get("labels", {}),
                "pod-template-hash": phash,
            }
            template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
            active_old = sum(_spec_n(r) for r in old)
            start = replicas if not old or active_old == 0 else 0
            if recreate and old:
                start = 0
            new_rs = api.create(
                rs_type,
                ns,
                {
                    "metadata": {
                        "name": f"{name}-{phash}",
                        "namespace": ns,
                        "labels": labels,
                        "annotations": {REVISION: str(max(revisions, default=0) + 1)},
                        "ownerReferences": [controller_ref(dep)],
                    },
                    "spec": {
                        "replicas": start,
                        "minReadySeconds": spec.get("minReadySeconds", 0),
                        "selector": selector,
                        "template": template,
                    },
                },
            )
        revision = (new_rs["metadata"].get("annotations") or {}).get(REVISION, "1")
        newest = max(revisions, default=0)
        if int(revision) < newest:
            # Rolling back to an older template makes its ReplicaSet the newest revision.
            revision = str(newest + 1)
            bumped = copy.deepcopy(new_rs)
            bumped["metadata"].setdefault("annotations", {})[REVISION] = revision
            new_rs = api.update(rs_type, ns, new_rs["metadata"]["name"], bumped)
        if not spec.get("paused"):
            self._roll(new_rs, old, replicas, surge, unavailable, recreate)
            self._cleanup(old, int(spec.get("revisionHistoryLimit", 10)))
        return self._status(dep, dep_type, new_rs, old, replicas, unavailable, revision)

    def _cleanup(self, old: list[Obj], limit: int) -> None:
        """Delete the oldest idle ReplicaSets beyond ``revisionHistoryLimit``."""
        idle = [
            r
            for r in old
            if _spec_n(r) == 0
            and _status_n(r, "replicas") == 0
            and not r["metadata"].get("deletionTimestamp")
        ]
        idle.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(REVISION, "0")))
        rs_type = self.api.type_of("apps", "v1", "replicasets")
        for r in idle[: max(len(idle) - limit, 0)]:
            self.api.delete(rs_type, r["metadata"]["namespace"], r["metadata"]["name"])

    def _scale(self, rs: Obj, count: int) -> None:
        before = _spec_n(rs)
        if before == count:
            return
        rs_type = self.api.type_of("apps", "v1", "replicasets")
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = count
        self.api.update(rs_type, rs["metadata"]["namespace"], rs["metadata"]["name"], new)
        rs["spec"]["replicas"] = count
        if self._current is not None:
            verb = "up" if count > before else "down"
            record_event(
                self.api,
                self._current,
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {count}",
                "deployment-controller",
            )

    def _roll(
        self,
        new_rs: Obj,
        old: list[Obj],
        replicas: int,
        surge: int,
        unavailable: int,
        recreate: bool,
    ) -> None:
        if recreate:
            for r in old:
                self._scale(r, 0)
            if all(_status_n(r, "replicas") == 0 for r in old):
                self._scale(new_rs, replicas)
            return
        if not old:
            self._scale(new_rs, replicas)
            return
        total = _spec_n(new_rs) + sum(_spec_n(r) for r in old)
        room = replicas + surge - total
        if _spec_n(new_rs) < replicas and room > 0:
            self._scale(new_rs, min(replicas, _spec_n(new_rs) + room))
        elif _spec_n(new_rs) > replicas:
            self._scale(new_rs, replicas)
        # As the Kubernetes controller: never drop below replicas - maxUnavailable.
        min_available = replicas - unavailable
        all_pods = _spec_n(new_rs) + sum(_spec_n(r) for r in old)
        new_unavailable = max(_spec_n(new_rs) - _status_n(new_rs, "availableReplicas"), 0)
        budget = all_pods - min_available - new_unavailable
        if budget <= 0:
            return
        oldest_first = sorted(old, key=lambda r: r["metadata"].get("creationTimestamp", ""))
        for r in oldest_first:  # old pods that are not available cost nothing to remove
            unhealthy = min(_spec_n(r) - _status_n(r, "availableReplicas"), budget)
            if unhealthy > 0:
                self._scale(r, _spec_n(r) - unhealthy)
                budget -= unhealthy
        available = _status_n(new_rs, "availableReplicas") + sum(
            _status_n(r, "availableReplicas") for r in old
        )
        can_remove = min(available - min_available, budget)
        for r in oldest_first:
            if can_remove <= 0:
                break
            cut = min(_spec_n(r), can_remove)
            if cut > 0:
                self._scale(r, _spec_n(r) - cut)
                can_remove -= cut

    def _progressing(
        self,
        dep: Obj,
        old_status: dict[str, Any],
        prev: dict[str, Any],
        complete: bool,
        rs_name: str,
        counts: tuple[int, int, int, int],
        now: str,
    ) -> dict[str, Any]:
        """The Progressing condition, with ProgressDeadlineExceeded when a rollout stalls."""
        old_counts = tuple(
            int(old_status.get(k, 0))
            for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        )
        progressed = counts != old_counts or old_status.get("observedGeneration") != dep[
            "metadata"
        ].get("generation", 1)
        if complete:
            status, reason = "True", "NewReplicaSetAvailable"
            message = f'ReplicaSet "{rs_name}" has successfully progressed.'
        else:
            status, reason = "True", "ReplicaSetUpdated"
            message = f'ReplicaSet "{rs_name}" is progressing.'
            deadline = (dep.get("spec") or {}).get("progressDeadlineSeconds", 600)
            since = prev.get("lastUpdateTime")
            stalled_reason = prev.get("reason") == "ProgressDeadlineExceeded"
            if not progressed and since and (
                stalled_reason or seconds_since(since) > float(deadline)
            ):
                status, reason = "False", "ProgressDeadlineExceeded"
                message = f'ReplicaSet "{rs_name}" has timed out progressing.'
        refresh = progressed and reason == "ReplicaSetUpdated"
        return _condition(prev, "Progressing", status, reason, message, now, refresh)

    def _status(
        self,
        dep: Obj,
        dep_type: Any,
        new_rs: Obj,
        old: list[Obj],
        replicas: int,
        unavailable: int,
        revision: str,
    ) -> float | None:
        all_rs = [new_rs, *old]
        total = sum(_status_n(r, "replicas") for r in all_rs)
        ready = sum(_status_n(r, "readyReplicas") for r in all_rs)
        available = sum(_status_n(r, "availableReplicas") for r in all_rs)
        updated = _status_n(new_rs, "replicas")
        complete = updated == replicas and total == replicas and available == replicas
        old_status = dep.get("status") or {}
        old_conds = {c.get("type"): c for c in old_status.get("conditions") or []}
        now = now_iso()
        rs_name = new_rs["metadata"]["name"]
        prev = old_conds.get("Available") or {}
        if available >= replicas - unavailable:
            ok, why = "True", "MinimumReplicasAvailable"
            message = "Deployment has minimum availability."
        else:
            ok, why = "False", "MinimumReplicasUnavailable"
            message = "Deployment does not have minimum availability."
        conditions = [
            _condition(prev, "Available", ok, why, message, now),
            self._progressing(
                dep,
                old_status,
                old_conds.get("Progressing") or {},
                complete,
                rs_name,
                (total, updated, ready, available),
                now,
            ),
        ]
        status: dict[str, Any] = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": conditions,
        }
        if total - available > 0:
            status["unavailableReplicas"] = total - available
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if not status[key]:
                del status[key]
        annotations = dep["metadata"].get("annotations") or {}
        if annotations.get(REVISION) != revision:
            new = copy.deepcopy(dep)
            new["metadata"].setdefault("annotations", {})[REVISION] = revision
            dep = self.api.update(
                dep_type, dep["metadata"]["namespace"], dep["metadata"]["name"], new
            )
        write_status(self.api, dep_type, dep, status)
        return None if complete else 1.0
