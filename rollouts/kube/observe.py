"""Gather what the decision core needs to know about one Rollout from the API.

ReplicaSets and AnalysisRuns count only when the Rollout owns them (ownerReference
uid); routes are read back and their weights trusted only as far as their parents'
status says (Accepted at the route's current generation), as Flagger does.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import requests

from rollouts.api.rollout import HeaderRoutingMatch, MirrorRouteMatch, Rollout
from rollouts.canary.restart import restart_pending
from rollouts.canary.routing import route_refs
from rollouts.canary.steps import max_weight
from rollouts.canary.types import (
    AnalysisRunView,
    HeaderRoute,
    MirrorRoute,
    Observed,
    PodView,
    ReplicaSetView,
    RouteKind,
    RouteView,
)
from rollouts.kube import names
from rollouts.kube.api import Kube, NotFound
from rollouts.kube.dataplane import DataPlane
from rollouts.traffic.httproute import RouteError, canary_share, managed_rule_names

__all__ = ["observe", "owned_by", "parents_verdict", "route_view"]

Obj = dict[str, Any]


def owned_by(obj: Obj, uid: str | None) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return uid is not None and any(ref.get("uid") == uid for ref in refs)


def _replica_set_view(rs: Obj) -> ReplicaSetView | None:
    meta = rs.get("metadata") or {}
    pod_hash = (meta.get("labels") or {}).get(names.HASH_LABEL)
    if not pod_hash:
        return None
    annotations = meta.get("annotations") or {}
    deadline = annotations.get(names.SCALE_DOWN_ANNOTATION)
    status = rs.get("status") or {}
    return ReplicaSetView(
        pod_template_hash=pod_hash,
        replicas=int((rs.get("spec") or {}).get("replicas") or 0),
        ready_replicas=int(status.get("readyReplicas") or 0),
        available_replicas=int(status.get("availableReplicas") or 0),
        revision=int(annotations.get(names.REVISION_ANNOTATION) or 0),
        scale_down_deadline=datetime.fromisoformat(deadline) if deadline else None,
        name=meta.get("name", ""),
    )


def _same_parent(ref: Obj, entry: Obj, route_namespace: str) -> bool:
    other = entry.get("parentRef") or {}
    return (ref.get("name") == other.get("name")
            and (ref.get("namespace") or route_namespace)
            == (other.get("namespace") or route_namespace)
            and ref.get("sectionName") == other.get("sectionName")
            and ref.get("port") == other.get("port"))


def parents_verdict(route: Obj) -> tuple[bool, str]:
    """Whether every parent Accepted the route at its current generation, and if not, why."""
    meta = route.get("metadata") or {}
    generation = int(meta.get("generation") or 0)
    namespace = meta.get("namespace") or ""
    parents = (route.get("spec") or {}).get("parentRefs") or []
    entries = (route.get("status") or {}).get("parents") or []
    if not parents:
        return False, "it has no parentRefs"
    for ref in parents:
        parent = ref.get("name")
        entry = next((e for e in entries if _same_parent(ref, e, namespace)), None)
        if entry is None:
            return False, (f"no gateway controller has reported on it for parent {parent}")
        accepted = next((c for c in entry.get("conditions") or []
                         if c.get("type") == "Accepted"), None)
        if accepted is None:
            return False, f"parent {parent} has not reported Accepted yet"
        if accepted.get("status") != "True":
            return False, (f"parent {parent} did not accept it: {accepted.get('reason')}: "
                           f"{accepted.get('message', '')}")
        seen = int(accepted.get("observedGeneration") or 0)
        if seen < generation:
            return False, (f"parent {parent} has accepted generation {seen}, the route is at "
                           f"generation {generation}")
    return True, ""


def _managed(route: Obj) -> tuple[tuple[HeaderRoute, ...], tuple[MirrorRoute, ...]]:
    annotations = (route.get("metadata") or {}).get("annotations") or {}
    try:
        recorded = json.loads(annotations.get(names.MANAGED_ROUTES_ANNOTATION) or "{}")
    except json.JSONDecodeError:
        recorded = {}
    present = set(managed_rule_names(route))
    headers, mirrors = [], []
    for name, entry in sorted(recorded.items()):
        if name not in present:
            continue
        if entry.get("kind") == "header":
            headers.append(HeaderRoute(name, tuple(HeaderRoutingMatch.model_validate(m)
                                                   for m in entry.get("match") or [])))
        elif entry.get("kind") == "mirror":
            mirrors.append(MirrorRoute(name, float(entry.get("percentage", 100)),
                                       tuple(MirrorRouteMatch.model_validate(m)
                                             for m in entry.get("match") or [])))
    return tuple(headers), tuple(mirrors)


def _weight(share: float | None, rollout: Rollout) -> float | None:
    """A canary share (0..1) in setWeight units."""
    return None if share is None else round(share * max_weight(rollout), 6)


def route_view(route: Obj | None, name: str, namespace: str, kind: RouteKind,
               rollout: Rollout) -> RouteView:
    """What a route carries for the Rollout, and whether its gateway has verified it."""
    if route is None:
        return RouteView(name, namespace, kind, exists=False, canary_weight=None,
                         verified=False)
    canary = rollout.canary
    assert canary.canary_service and canary.stable_service
    try:
        share = canary_share(route, canary.canary_service, canary.stable_service)
    except RouteError as error:
        return RouteView(name, namespace, kind, canary_weight=None, verified=False,
                         waiting_for=str(error))
    verified, why = parents_verdict(route)
    headers, mirrors = _managed(route)
    return RouteView(name, namespace, kind, canary_weight=_weight(share, rollout),
                     verified=verified, waiting_for=why, header_routes=headers,
                     mirror_routes=mirrors)


def _served_by_us(route: Obj) -> bool:
    return any(entry.get("controllerName") == names.GATEWAY_CONTROLLER
               for entry in (route.get("status") or {}).get("parents") or [])


def _check_data_plane(view: RouteView, route: Obj | None, rollout: Rollout,
                      data_plane: DataPlane | None,
                      config: dict[str, Any] | None) -> RouteView:
    """A verified route served by our gateway stays verified only if the data plane
    serves the same split."""
    if data_plane is None or route is None or not view.verified or not _served_by_us(route):
        return view
    canary = rollout.canary
    assert canary.canary_service and canary.stable_service
    if config is None:
        return dataclasses.replace(view, verified=False, waiting_for=(
            f"cannot read our gateway's table at {data_plane.address}"))
    share = DataPlane.canary_share(config, view.namespace, view.name, canary.canary_service,
                                   canary.stable_service)
    serving = _weight(share, rollout)
    if serving is None or view.canary_weight is None \
            or abs(serving - view.canary_weight) > 1e-6:
        shown = "nothing" if serving is None else f"canary weight {serving:g}"
        return dataclasses.replace(view, verified=False, waiting_for=(
            f"our gateway still serves {shown}"))
    return view


def _routes(kube: Kube, rollout: Rollout,
            data_plane: DataPlane | None = None) -> tuple[RouteView, ...]:
    views = []
    config: dict[str, Any] | None = None
    fetched = False
    for kind, name, namespace in route_refs(rollout):
        route = kube.find(names.ROUTE_KINDS[kind], name, namespace)
        view = route_view(route, name, namespace, kind, rollout)
        if data_plane is not None and route is not None and _served_by_us(route) \
                and not fetched:
            fetched = True
            try:
                config = data_plane.compiled()
            except (requests.RequestException, ValueError):
                config = None
        views.append(_check_data_plane(view, route, rollout, data_plane, config))
    return tuple(views)


def _selector(rollout: Rollout) -> str:
    labels = rollout.spec.selector.match_labels if rollout.spec.selector else None
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def observe(kube: Kube, rollout: Rollout, data_plane: DataPlane | None = None) -> Observed:
    """The world as the core needs it, for ``rollout`` (which must have a namespace)."""
    namespace = rollout.metadata.namespace or "default"
    uid = rollout.metadata.uid
    template: dict[str, Any] | None = None
    workload_replicas: int | None = None
    ref = rollout.spec.workload_ref
    if ref is not None:
        deployment = kube.find(names.DEPLOYMENT, ref.name, namespace)
        template = ((deployment or {}).get("spec") or {}).get("template")
        if deployment is not None:
            workload_replicas = int((deployment.get("spec") or {}).get("replicas", 1))
    replica_sets = [
        view for rs in kube.list(names.REPLICA_SET, namespace, _selector(rollout) or None)
        if owned_by(rs, uid) and (view := _replica_set_view(rs)) is not None
    ]
    runs = [
        AnalysisRunView(run["metadata"]["name"], (run.get("status") or {}).get("phase")
                        or "Pending", (run.get("status") or {}).get("message") or "",
                        _timestamp(run["metadata"].get("creationTimestamp")))
        for run in kube.list(names.ANALYSIS_RUN, namespace,
                             f"{names.ROLLOUT_LABEL}={rollout.metadata.name}")
        if owned_by(run, uid)
    ]
    services: dict[str, str | None] = {}
    for service in (rollout.canary.canary_service, rollout.canary.stable_service):
        if service:
            try:
                selector = (kube.get(names.SERVICE, service, namespace).get("spec") or {}).get(
                    "selector") or {}
                services[service] = selector.get(names.HASH_LABEL)
            except NotFound:
                services[service] = None
    pods: tuple[PodView, ...] = ()
    if restart_pending(rollout, rollout.status):
        pods = _pods(kube, rollout, namespace, {rs.name for rs in replica_sets})
    return Observed(
        pods=pods,
        replica_sets=tuple(sorted(replica_sets, key=lambda rs: rs.pod_template_hash)),
        routes=_routes(kube, rollout, data_plane),
        analysis_runs=tuple(sorted(runs, key=lambda r: r.name)),
        services=services,
        template=template,
        workload_replicas=workload_replicas,
    )


def _pods(kube: Kube, rollout: Rollout, namespace: str,
          replica_sets: set[str]) -> tuple[PodView, ...]:
    """The pods of the Rollout's ReplicaSets (for spec.restartAt)."""
    views = []
    for pod in kube.list(names.POD, namespace, _selector(rollout) or None):
        meta = pod.get("metadata") or {}
        owners = {ref.get("name") for ref in meta.get("ownerReferences") or []
                  if ref.get("kind") == "ReplicaSet"}
        created = _timestamp(meta.get("creationTimestamp"))
        if not owners & replica_sets or created is None or meta.get("deletionTimestamp"):
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (pod.get("status") or {}).get("conditions") or [])
        views.append(PodView(meta["name"], (meta.get("labels") or {}).get(
            names.HASH_LABEL, ""), created, ready))
    return tuple(sorted(views, key=lambda p: p.name))


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
