"""What to write into an HTTPRoute or GRPCRoute for a canary, and how to read it back.

Pure functions over the route as a plain dict (what the API returns). They change
only what the Rollout owns: the weights of the canary and stable backendRefs, and
the managed rules named ``rollouts-managed-<name>`` for header and mirror routes.
Every other rule, match, filter, annotation and backend of the user's route is left
as it was (Flagger rewrites the whole route; users complain).

Weights use Gateway API's own integer range so that fine steps are exact: a canary
share of 0.5 % is written as 5,000 against 995,000.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from rollouts.api.rollout import HeaderRoutingMatch, MirrorRouteMatch, StringMatch

__all__ = [
    "MANAGED_PREFIX",
    "WEIGHT_TOTAL",
    "RouteError",
    "canary_share",
    "managed_rule_names",
    "with_header_route",
    "with_mirror_route",
    "with_weights",
]

WEIGHT_TOTAL = 1_000_000
"""Sum of the canary and stable weights written (Gateway API's maximum weight)."""

MANAGED_PREFIX = "rollouts-managed-"

Route = dict[str, Any]


class RouteError(ValueError):
    """The route cannot carry the canary as asked; the message names route and rule."""


def _label(route: Route) -> str:
    meta = route.get("metadata") or {}
    where = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else meta.get(
        "name", "<unnamed>")
    return f"{route.get('kind', 'HTTPRoute')} {where}"


def _is_service_ref(ref: dict[str, Any], name: str) -> bool:
    return (ref.get("name") == name and ref.get("kind", "Service") == "Service"
            and ref.get("group", "") in ("", "core"))


def _traffic_rules(route: Route, canary: str, stable: str) -> list[int]:
    """Indexes of the user's rules that send to both the canary and stable Services."""
    indexes = []
    for i, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        if str(rule.get("name", "")).startswith(MANAGED_PREFIX):
            continue
        refs = rule.get("backendRefs") or []
        has_canary = any(_is_service_ref(r, canary) for r in refs)
        has_stable = any(_is_service_ref(r, stable) for r in refs)
        if has_canary and has_stable:
            indexes.append(i)
        elif has_canary or has_stable:
            missing = canary if has_stable else stable
            raise RouteError(f"{_label(route)}: rule {i} has a backendRef to "
                             f"{stable if has_stable else canary} but none to {missing}; "
                             "list both Services in the rule")
    if not indexes:
        raise RouteError(f"{_label(route)}: no rule has backendRefs to both {stable} and "
                         f"{canary}")
    return indexes


def _split(share: float) -> tuple[int, int]:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"canary share {share} is outside 0..1")
    canary = round(share * WEIGHT_TOTAL)
    return canary, WEIGHT_TOTAL - canary


def with_weights(route: Route, canary: str, stable: str, share: float) -> Route:
    """The route with the canary taking ``share`` (0..1) in every rule that has both."""
    new = copy.deepcopy(route)
    canary_weight, stable_weight = _split(share)
    rules = new["spec"]["rules"]
    _traffic_rules(new, canary, stable)
    for rule in rules:
        refs = rule.get("backendRefs") or []
        if not (any(_is_service_ref(r, canary) for r in refs)
                and any(_is_service_ref(r, stable) for r in refs)):
            continue
        for ref in refs:
            if _is_service_ref(ref, canary):
                ref["weight"] = canary_weight
            elif _is_service_ref(ref, stable):
                ref["weight"] = stable_weight
    return new


def canary_share(route: Route, canary: str, stable: str) -> float | None:
    """The canary's share (0..1) the route carries, or None if its rules disagree."""
    shares = set()
    for i in _traffic_rules(route, canary, stable):
        refs = route["spec"]["rules"][i]["backendRefs"]
        c = sum(int(r.get("weight", 1)) for r in refs if _is_service_ref(r, canary))
        s = sum(int(r.get("weight", 1)) for r in refs if _is_service_ref(r, stable))
        shares.add(0.0 if c + s == 0 else c / (c + s))
    return shares.pop() if len(shares) == 1 else None


def managed_rule_names(route: Route) -> list[str]:
    """Names of the managed routes present (``beta`` for rule ``rollouts-managed-beta``)."""
    names: list[str] = []
    for rule in (route.get("spec") or {}).get("rules") or []:
        name = str(rule.get("name", ""))
        if name.startswith(MANAGED_PREFIX):
            managed = re.sub(r"-\d+$", "", name[len(MANAGED_PREFIX):]) if re.search(
                r"-\d+$", name) and _numbered(route, name) else name[len(MANAGED_PREFIX):]
            if managed not in names:
                names.append(managed)
    return names


def _numbered(route: Route, name: str) -> bool:
    base = re.sub(r"-\d+$", "", name)
    rules = (route.get("spec") or {}).get("rules") or []
    return any(str(r.get("name", "")) == f"{base}-0" for r in rules)


def _without_managed(route: Route, name: str) -> Route:
    new = copy.deepcopy(route)
    own = f"{MANAGED_PREFIX}{name}"
    new["spec"]["rules"] = [r for r in new["spec"].get("rules") or []
                            if not (r.get("name") == own
                                    or re.fullmatch(re.escape(own) + r"-\d+",
                                                    str(r.get("name", ""))))]
    return new


def _string_match(match: StringMatch, *, path: bool = False) -> dict[str, str]:
    if match.exact is not None:
        return {"type": "Exact", "value": match.exact}
    if match.prefix is not None:
        if path:
            return {"type": "PathPrefix", "value": match.prefix}
        return {"type": "RegularExpression", "value": "^" + re.escape(match.prefix) + ".*"}
    return {"type": "RegularExpression", "value": match.regex or ""}


def _insert_managed(route: Route, name: str, rules: list[dict[str, Any]],
                    order: Sequence[str]) -> Route:
    """Managed rules go first, in managedRoutes order (their precedence on ties)."""
    new = _without_managed(route, name)
    for i, rule in enumerate(rules):
        rule["name"] = f"{MANAGED_PREFIX}{name}" if len(rules) == 1 else \
            f"{MANAGED_PREFIX}{name}-{i}"
    existing = new["spec"].get("rules") or []
    managed = [r for r in existing if str(r.get("name", "")).startswith(MANAGED_PREFIX)]
    user = [r for r in existing if not str(r.get("name", "")).startswith(MANAGED_PREFIX)]

    def rank(rule: dict[str, Any]) -> int:
        base = re.sub(r"-\d+$", "", str(rule["name"])[len(MANAGED_PREFIX):])
        base = base if base in order else str(rule["name"])[len(MANAGED_PREFIX):]
        return order.index(base) if base in order else len(order)

    new["spec"]["rules"] = sorted(managed + rules, key=rank) + user
    return new


def with_header_route(route: Route, name: str, matches: Sequence[HeaderRoutingMatch],
                      canary: str, stable: str, order: Sequence[str]) -> Route:
    """The route with managed rule(s) sending requests with these headers to the canary;
    no matches removes them."""
    if not matches:
        return _without_managed(route, name)
    headers = [{"name": m.header_name, **_string_match(m.header_value)} for m in matches]
    rules = []
    for i in _traffic_rules(route, canary, stable):
        original = route["spec"]["rules"][i]
        rule: dict[str, Any] = copy.deepcopy(
            {k: v for k, v in original.items() if k not in ("name", "backendRefs")})
        base_matches = rule.get("matches") or [{}]
        rule["matches"] = [{**copy.deepcopy(m), "headers": [*(m.get("headers") or []),
                                                            *headers]} for m in base_matches]
        canary_refs = [copy.deepcopy(r) for r in original["backendRefs"]
                       if _is_service_ref(r, canary)]
        for ref in canary_refs:
            ref["weight"] = 1
        rule["backendRefs"] = canary_refs
        rules.append(rule)
    return _insert_managed(route, name, rules, order)


def _mirror_match(match: MirrorRouteMatch) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if match.path is not None:
        result["path"] = _string_match(match.path, path=True)
    if match.method is not None and match.method.exact is not None:
        result["method"] = match.method.exact.upper()
    if match.headers:
        result["headers"] = [{"name": k, **_string_match(v)}
                             for k, v in sorted(match.headers.items())]
    return result


def with_mirror_route(route: Route, name: str, percentage: float,
                      matches: Sequence[MirrorRouteMatch], canary: str, stable: str,
                      order: Sequence[str]) -> Route:
    """The route with managed rule(s) serving matching requests as usual and mirroring
    ``percentage`` of them to the canary; no matches removes them."""
    if not matches:
        return _without_managed(route, name)
    rules = []
    for i in _traffic_rules(route, canary, stable):
        original = route["spec"]["rules"][i]
        rule = copy.deepcopy({k: v for k, v in original.items() if k != "name"})
        rule["matches"] = [_mirror_match(m) for m in matches]
        mirror_ref = next(copy.deepcopy(r) for r in original["backendRefs"]
                          if _is_service_ref(r, canary))
        mirror_ref.pop("weight", None)
        mirror_ref.pop("filters", None)
        mirror: dict[str, Any] = {"backendRef": mirror_ref}
        if percentage < 100:
            mirror["percent"] = round(percentage)
        rule["filters"] = [*(rule.get("filters") or []),
                           {"type": "RequestMirror", "requestMirror": mirror}]
        rules.append(rule)
    return _insert_managed(route, name, rules, order)
