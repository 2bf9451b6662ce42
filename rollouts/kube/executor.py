"""Carry out the decision core's actions against the API, in order.

One method per action type; the first failure stops the rest (they were ordered so
that stopping early is safe: pods before Services before traffic) and is reported to
the caller, which writes it into the status and looks again soon. Route writes use
the object's resourceVersion and retry on conflict, so a user's concurrent edit to
the route is never lost.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from rollouts.analysis.args import build_run, field_path_value
from rollouts.api.analysis import AnalysisTemplate, Argument, ClusterAnalysisTemplate
from rollouts.api.rollout import Rollout
from rollouts.canary.routing import managed_route_names, route_refs
from rollouts.canary.steps import max_weight
from rollouts.canary.types import (
    Action,
    CreateAnalysisRun,
    DeleteAnalysisRun,
    DeletePod,
    DeleteReplicaSet,
    EmitEvent,
    PointService,
    ScaleReplicaSet,
    ScaleWorkload,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    TerminateAnalysisRun,
)
from rollouts.kube import names
from rollouts.kube.api import (
    AlreadyExists,
    ApiError,
    Conflict,
    Kube,
    NotFound,
    without_managed_fields,
)
from rollouts.traffic.httproute import (
    RouteError,
    with_header_route,
    with_mirror_route,
    with_weights,
)

__all__ = ["Executor", "owner_reference"]

Obj = dict[str, Any]


def owner_reference(rollout: Rollout) -> Obj:
    return {"apiVersion": rollout.api_version, "kind": rollout.kind,
            "name": rollout.metadata.name, "uid": rollout.metadata.uid,
            "controller": True, "blockOwnerDeletion": True}


class Executor:
    """Applies actions for one Rollout; ``template`` is its effective pod template."""

    def __init__(self, kube: Kube, rollout: Rollout, document: Obj,
                 template: Obj | None, next_revision: int,
                 now: datetime | None = None) -> None:
        self.kube = kube
        self.rollout = rollout
        self.document = document
        self.template = template or {}
        self.next_revision = next_revision
        self.namespace = rollout.metadata.namespace or "default"
        self.now = now or datetime.now(UTC)

    def run(self, actions: Sequence[Action]) -> str | None:
        """Apply ``actions`` in order; the first error's message, or None."""
        for action in actions:
            try:
                self.apply(action)
            except (ApiError, RouteError, ValueError) as error:
                if isinstance(action, EmitEvent):
                    continue  # an Event that cannot be written never blocks progress
                return f"{type(action).__name__} failed: {error}"
        return None

    def apply(self, action: Action) -> None:
        if isinstance(action, ScaleReplicaSet):
            self._scale(action)
        elif isinstance(action, PointService):
            self.kube.patch(names.SERVICE, action.service,
                            {"spec": {"selector": {names.HASH_LABEL: action.pod_template_hash}}},
                            self.namespace)
        elif isinstance(action, SetWeight):
            share = action.canary_weight / max_weight(self.rollout)
            self._each_route(lambda route, c, s: with_weights(route, c, s, share))
        elif isinstance(action, SetHeaderRoute):
            self._managed(action.name, {"kind": "header", "match": [
                m.to_dict() for m in action.match]} if action.match else None,
                lambda route, c, s, order: with_header_route(route, action.name, action.match,
                                                             c, s, order))
        elif isinstance(action, SetMirrorRoute):
            self._managed(action.name, {"kind": "mirror", "percentage": action.percentage,
                                        "match": [m.to_dict() for m in action.match]}
                          if action.match else None,
                          lambda route, c, s, order: with_mirror_route(
                              route, action.name, action.percentage, action.match, c, s, order))
        elif isinstance(action, CreateAnalysisRun):
            self._create_run(action)
        elif isinstance(action, TerminateAnalysisRun):
            self.kube.patch(names.ANALYSIS_RUN, action.name, {"spec": {"terminate": True}},
                            self.namespace)
        elif isinstance(action, ScaleWorkload):
            ref = self.rollout.spec.workload_ref
            assert ref is not None
            self.kube.patch(names.DEPLOYMENT, ref.name, {"spec": {"replicas": action.replicas}},
                            self.namespace)
        elif isinstance(action, DeleteReplicaSet):
            with contextlib.suppress(NotFound):
                self.kube.delete(names.REPLICA_SET,
                                 f"{self.rollout.metadata.name}-{action.pod_template_hash}",
                                 self.namespace)
        elif isinstance(action, DeletePod):
            with contextlib.suppress(NotFound):
                self.kube.delete(names.POD, action.name, self.namespace)
        elif isinstance(action, DeleteAnalysisRun):
            with contextlib.suppress(NotFound):
                self.kube.delete(names.ANALYSIS_RUN, action.name, self.namespace)
        elif isinstance(action, EmitEvent):
            self._event(action)

    # -- ReplicaSets --------------------------------------------------------------------

    def _scale(self, action: ScaleReplicaSet) -> None:
        name = f"{self.rollout.metadata.name}-{action.pod_template_hash}"
        deadline = action.scale_down_deadline.isoformat() if action.scale_down_deadline \
            else None
        existing = self.kube.find(names.REPLICA_SET, name, self.namespace)
        if existing is not None:
            self.kube.patch(names.REPLICA_SET, name, {
                "metadata": {"annotations": {names.SCALE_DOWN_ANNOTATION: deadline}},
                "spec": {"replicas": action.replicas}}, self.namespace)
            return
        if action.replicas == 0:
            return
        self.kube.create(names.REPLICA_SET, self._replica_set(name, action), self.namespace)
        self.next_revision += 1

    def _replica_set(self, name: str, action: ScaleReplicaSet) -> Obj:
        pod_hash = action.pod_template_hash
        template = copy.deepcopy(self.template)
        meta = template.setdefault("metadata", {})
        role = (self.rollout.canary.canary_metadata if action.role == "canary"
                else self.rollout.canary.stable_metadata)
        meta["labels"] = {**(meta.get("labels") or {}), **((role.labels or {}) if role else {}),
                          names.HASH_LABEL: pod_hash}
        if role and role.annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **role.annotations}
        selector = self.rollout.spec.selector
        match_labels = dict((selector.match_labels or {}) if selector else {})
        if not match_labels:
            match_labels = {k: v for k, v in meta["labels"].items() if k != names.HASH_LABEL}
        match_labels[names.HASH_LABEL] = pod_hash
        annotations = {names.REVISION_ANNOTATION: str(self.next_revision)}
        if action.scale_down_deadline is not None:
            annotations[names.SCALE_DOWN_ANNOTATION] = action.scale_down_deadline.isoformat()
        return {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": self.namespace,
                         "labels": {**meta["labels"]}, "annotations": annotations,
                         "ownerReferences": [owner_reference(self.rollout)]},
            "spec": {"replicas": action.replicas,
                     "minReadySeconds": self.rollout.spec.min_ready_seconds,
                     "selector": {"matchLabels": match_labels}, "template": template},
        }

    # -- routes -------------------------------------------------------------------------

    def _each_route(self, change: Any) -> None:
        """``change(route, canary_service, stable_service)`` on every route the Rollout
        names (each re-read and changed again on a conflict)."""
        canary = self.rollout.canary
        for kind, name, namespace in route_refs(self.rollout):
            self._update_route(names.ROUTE_KINDS[kind], name, namespace, lambda route: change(
                route, canary.canary_service, canary.stable_service))

    @retry(retry=retry_if_exception_type(Conflict), stop=stop_after_attempt(5),
           wait=wait_exponential(multiplier=0.05, max=1), reraise=True)
    def _update_route(self, kind: names.Kind, name: str, namespace: str, change: Any) -> None:
        route = self.kube.get(kind, name, namespace)
        updated = change(route)
        if updated != route:
            self.kube.replace(kind, updated, namespace)

    def _managed(self, name: str, record: Obj | None, change: Any) -> None:
        order = managed_route_names(self.rollout)

        def update(route: Obj, canary_service: str, stable_service: str) -> Obj:
            new = change(route, canary_service, stable_service, order)
            annotations = new.setdefault("metadata", {}).setdefault("annotations", {}) or {}
            recorded = json.loads(annotations.get(names.MANAGED_ROUTES_ANNOTATION) or "{}")
            if record is None:
                recorded.pop(name, None)
            else:
                recorded[name] = record
            annotations[names.MANAGED_ROUTES_ANNOTATION] = json.dumps(recorded, sort_keys=True)
            new["metadata"]["annotations"] = annotations
            return dict(new)

        self._each_route(update)

    # -- analysis and events ------------------------------------------------------------

    def _create_run(self, action: CreateAnalysisRun) -> None:
        templates: list[AnalysisTemplate | ClusterAnalysisTemplate] = []
        missing = []
        for ref in action.templates:
            if ref.cluster_scope:
                found = self.kube.find(names.CLUSTER_ANALYSIS_TEMPLATE, ref.template_name)
                if found is not None:
                    templates.append(ClusterAnalysisTemplate.model_validate(_clean(found)))
                    continue
                missing.append(f"ClusterAnalysisTemplate {ref.template_name}")
            else:
                found = self.kube.find(names.ANALYSIS_TEMPLATE, ref.template_name, self.namespace)
                if found is not None:
                    templates.append(AnalysisTemplate.model_validate(_clean(found)))
                    continue
                missing.append(f"AnalysisTemplate {self.namespace}/{ref.template_name}")
        args = []
        for arg in action.args:
            value = arg.value
            if value is None and arg.value_from and arg.value_from.field_ref:
                value = field_path_value(self.document, arg.value_from.field_ref.field_path)
            args.append(Argument(name=arg.name, value=value))
        labels = {names.ROLLOUT_LABEL: self.rollout.metadata.name or "",
                  names.HASH_LABEL: action.pod_template_hash,
                  "rollouts.dev/analysis-kind": action.kind}
        if missing:
            raise NotFound(f"cannot start analysis run {action.name}: "
                           f"{', '.join(missing)} not found", 404)
        run = build_run(templates, args, name=action.name, namespace=self.namespace,
                        labels=labels)
        body = run.to_dict()
        body["metadata"]["ownerReferences"] = [owner_reference(self.rollout)]
        status = body.pop("status", None)
        try:
            self.kube.create(names.ANALYSIS_RUN, body, self.namespace)
        except AlreadyExists:
            return
        if status:
            self.kube.patch(names.ANALYSIS_RUN, action.name, {"status": status},
                            self.namespace, status=True)

    def _event(self, action: EmitEvent) -> None:
        stamp = self.now.isoformat().replace("+00:00", "Z")
        meta = self.rollout.metadata
        self.kube.create(names.EVENT, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta.name}.", "namespace": self.namespace},
            "involvedObject": {"apiVersion": self.rollout.api_version, "kind": "Rollout",
                               "name": meta.name, "namespace": self.namespace,
                               "uid": meta.uid},
            "reason": action.reason, "message": action.message, "type": action.type,
            "source": {"component": "rollouts-operator"},
            "reportingComponent": "rollouts-operator",
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }, self.namespace)


def _clean(obj: Obj) -> Obj:
    """An object from the API without the server-set parts the models do not need."""
    clean = without_managed_fields(obj)
    clean.pop("status", None)
    return clean
