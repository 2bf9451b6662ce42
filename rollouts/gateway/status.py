"""Pure status computation for GatewayClass, Gateway and routes.

Why this exists: status is how users and the operator learn whether the gateway took
their config (Flagger refuses to trust weights while Accepted is not True or stale).
It is computed whole from the Resolution, with observedGeneration, keeping
lastTransitionTime when a condition did not change, and never touching parent
entries that belong to other controllers. The writer (elected replica) only diffs and
patches what this returns.
"""

from __future__ import annotations

from typing import Any

from rollouts.api.gatewayapi import CONTROLLER_NAME, GatewayClass
from rollouts.gateway.attach import Cond, GatewayInfo, RouteInfo

__all__ = [
    "SUPPORTED_FEATURES",
    "gateway_class_status",
    "gateway_status",
    "route_status",
]

#: GatewayClass.status.supportedFeatures: exactly what the data plane implements today
SUPPORTED_FEATURES: tuple[str, ...] = tuple(sorted((
    "Gateway",
    "GatewayHTTPListenerIsolation",
    "GatewayPort8080",
    "GRPCRoute",
    "HTTPRoute",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
    "ReferenceGrant",
)))  # fmt: skip

_GW_GROUP = "gateway.networking.k8s.io"


def _conditions(
    conds: dict[str, Cond], generation: int, now: str, old: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    prev = {c.get("type"): c for c in old or []}
    out = []
    for ctype, c in conds.items():
        status = "True" if c.status else "False"
        p = prev.get(ctype)
        ltt = p["lastTransitionTime"] if p and p.get("status") == status and \
            p.get("lastTransitionTime") else now  # fmt: skip
        out.append({
            "type": ctype, "status": status, "reason": c.reason, "message": c.message,
            "observedGeneration": generation, "lastTransitionTime": ltt,
        })  # fmt: skip
    return out


def gateway_class_status(
    gc: GatewayClass, now: str, old: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Status of a GatewayClass we own; None for other controllers' classes."""
    if gc.spec.controller_name != CONTROLLER_NAME:
        return None
    conds = {"Accepted": Cond(True, "Accepted", "handled by the rollouts gateway")}
    return {
        "conditions": _conditions(
            conds, gc.metadata.generation, now, (old or {}).get("conditions")
        ),
        "supportedFeatures": [{"name": n} for n in SUPPORTED_FEATURES],
    }


def gateway_status(
    gi: GatewayInfo, now: str, addresses: list[str], old: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Gateway conditions, addresses and per-listener status."""
    gen = gi.gateway.metadata.generation
    old = old or {}
    old_listeners = {ls.get("name"): ls for ls in old.get("listeners") or []}
    listeners = []
    for li in gi.listeners:
        conds = dict(li.conditions)
        conds["Programmed"] = Cond(li.valid, "Programmed" if li.valid else "Invalid")
        listeners.append({
            "name": li.listener.name,
            "supportedKinds": [{"group": _GW_GROUP, "kind": k} for k in li.supported_kinds],
            "attachedRoutes": li.attached_routes,
            "conditions": _conditions(conds, gen, now,
                                      old_listeners.get(li.listener.name, {}).get("conditions")),
        })  # fmt: skip
    return {
        "addresses": [{"type": "IPAddress", "value": a} for a in addresses],
        "conditions": _conditions(gi.conditions, gen, now, old.get("conditions")),
        "listeners": listeners,
    }


def _same_parent(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("group", "kind", "namespace", "name", "sectionName", "port")
    return all(a.get(k) == b.get(k) for k in keys)


def route_status(info: RouteInfo, now: str, old: dict[str, Any] | None = None) -> dict[str, Any]:
    """status.parents for our parentRefs; other controllers' entries are kept verbatim."""
    route = info.route
    gen = route.metadata.generation
    old_parents: list[dict[str, Any]] = list((old or {}).get("parents") or [])
    n_rules = len(route.spec.rules)
    ours = []
    for p in info.parents:
        ref = p.parent_ref.model_dump(by_alias=True, exclude_none=True)
        ref.setdefault("namespace", route.metadata.namespace)
        accepted = p.accepted
        conds: dict[str, Cond] = {}
        if accepted.status and info.rule_errors:
            msg = "; ".join(f"rule {i}: {e}" for i, e in sorted(info.rule_errors.items()))
            if len(info.rule_errors) >= n_rules:
                accepted = Cond(False, "UnsupportedValue", msg)
            else:
                conds["PartiallyInvalid"] = Cond(True, "UnsupportedValue", msg)
        conds = {"Accepted": accepted, "ResolvedRefs": info.resolved_refs, **conds}
        prev = next((o for o in old_parents
                     if o.get("controllerName") == CONTROLLER_NAME
                     and _same_parent(o.get("parentRef", {}), ref)), None)  # fmt: skip
        ours.append(
            {
                "parentRef": ref,
                "controllerName": CONTROLLER_NAME,
                "conditions": _conditions(
                    conds, gen, now, prev.get("conditions") if prev else None
                ),
            }
        )
    others = [o for o in old_parents if o.get("controllerName") != CONTROLLER_NAME]
    return {"parents": others + ours}
