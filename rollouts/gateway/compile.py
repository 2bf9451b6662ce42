"""Snapshot -> routing table. Pure: no I/O, no clock, deterministic.

Why this exists: all the Gateway API semantics that can be decided ahead of time
(attachment, hostname intersection, listener isolation, match precedence, filter
validation, backend resolution to endpoints or to 500/503) are decided here once per
config change, so the hot path only follows pointers. Rule-level validation errors are
recorded on the Resolution, which the status computation reads.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rollouts.api.gatewayapi import (
    GRPCRoute,
    GRPCRouteRule,
    HTTPRouteFilter,
    HTTPRouteMatch,
    HTTPRouteRule,
    PathModifier,
)
from rollouts.gateway.attach import Resolution, RouteInfo, resolve, resolve_backend
from rollouts.gateway.balancer import SmoothWeighted
from rollouts.gateway.metrics import Registry
from rollouts.gateway.snapshot import Snapshot
from rollouts.gateway.table import (
    Action,
    BackendTarget,
    Group,
    HeaderMods,
    ListenerTable,
    Match,
    Mirror,
    PathChange,
    PortTable,
    Redirect,
    RoutingTable,
)

__all__ = ["RuleError", "compile_snapshot", "parse_duration"]

_DURATION = re.compile(r"^(?:[0-9]{1,5}(?:h|ms|m|s)){1,4}$")
_PART = re.compile(r"([0-9]{1,5})(h|ms|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_REDIRECT_CODES = (301, 302, 303, 307, 308)
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")


class RuleError(ValueError):
    """A rule we cannot serve; its message goes into the route's Accepted condition."""


def parse_duration(value: str | None) -> float | None:
    """Gateway API Duration (``1h2m``, ``500ms``) in seconds; ``0s`` and None mean none."""
    if value is None:
        return None
    if not _DURATION.match(value):
        raise RuleError(f"invalid duration {value!r}")
    total = sum(int(n) * _UNIT[u] for n, u in _PART.findall(value))
    return total or None


def _mods(f: HTTPRouteFilter, which: str) -> HeaderMods:
    m = f.request_header_modifier if which == "req" else f.response_header_modifier
    if m is None:
        raise RuleError(f"filter {f.type} has no configuration")
    return HeaderMods([(h.name, h.value) for h in m.set],
                      [(h.name, h.value) for h in m.add], list(m.remove))  # fmt: skip


def _path_change(p: PathModifier | None, prefix_only_ok: bool) -> PathChange | None:
    if p is None:
        return None
    if p.type == "ReplaceFullPath" and p.replace_full_path is not None:
        return PathChange(True, p.replace_full_path)
    if p.type == "ReplacePrefixMatch" and p.replace_prefix_match is not None:
        if not prefix_only_ok:
            raise RuleError("ReplacePrefixMatch requires PathPrefix matches only")
        return PathChange(False, p.replace_prefix_match)
    raise RuleError(f"unsupported path modifier type {p.type}")


def _sort_key(
    kind: str, value: str, method: Any, headers: int, query: int, ts: datetime | None,
    label: str, rule_i: int, match_i: int,
) -> tuple[Any, ...]:  # fmt: skip
    rank = {"Exact": 0, "RegularExpression": 1, "PathPrefix": 2}[kind]
    stamp = ts.timestamp() if ts is not None else float("inf")
    return (rank, -len(value), method is None, -headers, -query, stamp, label, rule_i, match_i)


def _grpc_matches(rule: GRPCRouteRule) -> list[HTTPRouteMatch]:
    """GRPCRoute matches expressed as HTTP path matches (``/service/method``)."""
    out: list[HTTPRouteMatch] = []
    for m in rule.matches or []:
        path: dict[str, str] = {"type": "PathPrefix", "value": "/"}
        if m.method is not None:
            svc, meth = m.method.service, m.method.method
            if m.method.type == "Exact":
                if svc and meth:
                    path = {"type": "Exact", "value": f"/{svc}/{meth}"}
                elif svc:
                    path = {"type": "PathPrefix", "value": f"/{svc}"}
                elif meth:
                    path = {"type": "RegularExpression", "value": f"/[^/]+/{re.escape(meth)}"}
            elif m.method.type == "RegularExpression":
                any_ = "[^/]+"
                path = {"type": "RegularExpression", "value": f"/{svc or any_}/{meth or any_}"}
            else:
                raise RuleError(f"unsupported gRPC method match type {m.method.type}")
        out.append(HTTPRouteMatch.model_validate(
            {"path": path, "headers": [h.model_dump(by_alias=True) for h in m.headers],
             "method": "POST"}))  # fmt: skip
    return out or [HTTPRouteMatch.model_validate({"method": "POST"})]


def _build_action(
    snap: Snapshot, reg: Registry, info: RouteInfo, i: int, rule: HTTPRouteRule | GRPCRouteRule,
    matches: list[HTTPRouteMatch],
) -> Action:  # fmt: skip
    route = info.route
    rule_label = rule.name or str(i)
    a = Action(info.label, rule_label, reg.route_stats(info.label, rule_label, ""))
    prefix_only = all(m.path is not None and m.path.type == "PathPrefix" for m in matches)
    mirrors: list[Mirror] = []
    for f in rule.filters:
        if f.type == "RequestHeaderModifier":
            a.req_mods = _mods(f, "req")
        elif f.type == "ResponseHeaderModifier":
            a.resp_mods = _mods(f, "resp")
        elif f.type == "RequestRedirect" and f.request_redirect is not None:
            r = f.request_redirect
            if r.status_code not in _REDIRECT_CODES:
                raise RuleError(f"unsupported redirect statusCode {r.status_code}")
            if r.scheme not in (None, "http", "https"):
                raise RuleError(f"unsupported redirect scheme {r.scheme}")
            a.redirect = Redirect(r.scheme, r.hostname, r.port,
                                  _path_change(r.path, prefix_only), r.status_code)  # fmt: skip
        elif f.type == "URLRewrite" and f.url_rewrite is not None:
            a.rewrite_host = f.url_rewrite.hostname.encode() if f.url_rewrite.hostname else None
            a.rewrite_path = _path_change(f.url_rewrite.path, prefix_only)
        elif f.type == "RequestMirror" and f.request_mirror is not None:
            rm = f.request_mirror
            rb = resolve_backend(snap, info.kind, route.metadata.namespace, rm.backend_ref)
            num, den = 100, 100
            if rm.percent is not None:
                num = rm.percent
            elif rm.fraction is not None:
                num, den = rm.fraction.numerator, rm.fraction.denominator
            if rb.status == 0 and num > 0:
                st = reg.route_stats(info.label, rule_label, "mirror:" + rb.label)
                mirrors.append(Mirror(BackendTarget(rb.label, 1, 0, rb.endpoints, st), num, den))
        else:
            raise RuleError(f"unsupported filter type {f.type}")
    if a.redirect is not None and (a.rewrite_host is not None or a.rewrite_path is not None):
        raise RuleError("RequestRedirect and URLRewrite cannot be combined")
    a.mirrors = tuple(mirrors)
    timeouts = getattr(rule, "timeouts", None)
    if timeouts is not None:
        a.timeout_request = parse_duration(timeouts.request)
        a.timeout_backend = parse_duration(timeouts.backend_request)
        both = [x for x in (a.timeout_request, a.timeout_backend) if x is not None]
        a.timeout = min(both) if both else None
    targets: list[tuple[BackendTarget, int]] = []
    # GRPCRoute: requests for an invalid backendRef MUST get UNAVAILABLE, which gRPC
    # clients read from HTTP 503 (HTTPRoute's 500 would surface as UNKNOWN)
    grpc = isinstance(info.route, GRPCRoute)
    for ref, rb in zip(rule.backend_refs, info.backends[i], strict=True):
        req_mods = resp_mods = None
        for f in ref.filters:
            if f.type == "RequestHeaderModifier":
                req_mods = _mods(f, "req")
            elif f.type == "ResponseHeaderModifier":
                resp_mods = _mods(f, "resp")
            else:
                raise RuleError(f"unsupported backendRef filter type {f.type}")
        st = reg.route_stats(info.label, rule_label, rb.label)
        status = 503 if grpc and rb.status == 500 else rb.status
        targets.append((BackendTarget(rb.label, rb.weight, status, rb.endpoints, st,
                                      req_mods, resp_mods, rb.h2), rb.weight))  # fmt: skip
    a.backends = SmoothWeighted(targets)
    if a.redirect is None and len(a.backends) == 0:
        a.fixed_status = 503 if grpc else 500
    return a


def _compile_matches(
    info: RouteInfo, i: int, matches: list[HTTPRouteMatch], action: Action
) -> list[Match]:
    out: list[Match] = []
    ts = info.route.metadata.creation_timestamp
    for j, m in enumerate(matches):
        p = m.path
        kind, value = (p.type, p.value) if p is not None else ("PathPrefix", "/")
        if kind not in ("Exact", "PathPrefix", "RegularExpression"):
            raise RuleError(f"unsupported path match type {kind}")
        if m.method is not None and m.method not in _METHODS:
            raise RuleError(f"unsupported method {m.method}")
        headers: list[tuple[bytes, bytes | re.Pattern[bytes]]] = []
        seen: set[bytes] = set()
        for h in m.headers:
            name = h.name.lower().encode()
            if name in seen:
                continue  # only the first entry with an equivalent name counts
            seen.add(name)
            headers.append((name, _value(h.type, h.value).encode() if h.type == "Exact"
                            else _regex(h.value.encode())))  # fmt: skip
        query: list[tuple[str, str | re.Pattern[str]]] = []
        qseen: set[str] = set()
        for q in m.query_params:
            if q.name in qseen:
                continue
            qseen.add(q.name)
            query.append((q.name, _value(q.type, q.value) if q.type == "Exact"
                           else _regex(q.value)))  # fmt: skip
        if kind == "RegularExpression":
            _regex(value)
        key = _sort_key(kind, value, m.method, len(headers), len(query), ts, info.label, i, j)
        method = m.method.encode() if m.method else None
        out.append(Match(action, kind, value, method, headers, query, key))
    return out


def _value(kind: str, value: str) -> str:
    if kind != "Exact":
        raise RuleError(f"unsupported match type {kind}")
    return value


def _regex(pattern: Any) -> Any:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RuleError(f"invalid regular expression {pattern!r}: {exc}") from exc


def compile_snapshot(
    snap: Snapshot, registry: Registry | None = None, generation: int = 0
) -> tuple[RoutingTable, Resolution]:
    """Compile a snapshot; the Resolution (with rule errors) feeds the status computation."""
    reg = registry if registry is not None else Registry()
    res = resolve(snap)
    # listener id -> {hostname or None: [Match]}
    per_listener: dict[int, dict[str | None, list[Match]]] = {}
    for info in res.routes:
        if not any(p.accepted.status for p in info.parents):
            continue
        compiled: list[Match] = []
        rules = info.route.spec.rules
        for i, rule in enumerate(rules):
            try:
                if isinstance(info.route, GRPCRoute):
                    assert isinstance(rule, GRPCRouteRule)
                    matches = _grpc_matches(rule)
                else:
                    assert isinstance(rule, HTTPRouteRule)
                    matches = list(rule.matches) or [HTTPRouteMatch()]
                action = _build_action(snap, reg, info, i, rule, matches)
                compiled.extend(_compile_matches(info, i, matches, action))
            except RuleError as exc:
                info.rule_errors[i] = str(exc)
        for parent in info.parents:
            if not parent.accepted.status:
                continue
            for li, hosts in parent.listeners:
                levels = per_listener.setdefault(id(li), {})
                for h in hosts:
                    levels.setdefault(h, []).extend(compiled)
    ports: dict[int, list[ListenerTable]] = {}
    schemes: dict[int, str] = {}
    for key, gi in sorted(res.gateways.items()):
        for li in gi.listeners:
            if not li.valid:
                continue
            levels = per_listener.get(id(li), {})
            groups = {h: Group(ms) for h, ms in levels.items() if h is not None}
            catch = Group(levels[None]) if None in levels else None
            lis = li.listener
            scheme = "https" if lis.protocol == "HTTPS" else "http"
            if schemes.setdefault(lis.port, scheme) != scheme:
                continue
            ports.setdefault(lis.port, []).append(
                ListenerTable(
                    f"{key[0]}/{key[1]}", lis.name, lis.hostname, lis.port, scheme, groups, catch
                )
            )
    table = RoutingTable(
        generation, {p: PortTable(p, schemes[p], lts) for p, lts in sorted(ports.items())}
    )
    return table, res
