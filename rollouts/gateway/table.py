"""The compiled routing table: what the hot path consults for every request.

Why this exists: matching must be cheap and must not slow down as routes are added.
The compiler turns the snapshot into plain slotted objects, indexed so that a lookup
costs a few dict probes: port -> listener (by Host, most specific first) -> hostname
level (exact, then wildcard suffixes, then catch-all) -> path (exact dict, regexes,
then prefix dict probed segment by segment). Only the candidates that share the path
key are scanned, already sorted by the spec's precedence order. A table is never
mutated after compilation; a new config yields a new table swapped in whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from rollouts.gateway.balancer import EndpointRing, SmoothWeighted
from rollouts.gateway.hostnames import host_keys
from rollouts.gateway.metrics import RouteStats

__all__ = [
    "Action",
    "BackendTarget",
    "Group",
    "HeaderMods",
    "ListenerTable",
    "Match",
    "Mirror",
    "PathChange",
    "PortTable",
    "QueryParams",
    "Redirect",
    "RoutingTable",
]


class HeaderMods:
    """RequestHeaderModifier / ResponseHeaderModifier, names pre-lowered as bytes."""

    __slots__ = ("add", "drop", "set")

    def __init__(
        self, set_: list[tuple[str, str]], add: list[tuple[str, str]], remove: list[str]
    ) -> None:
        self.set = [(n.lower().encode(), n.encode(), v.encode()) for n, v in set_]
        self.add = [(n.encode(), v.encode()) for n, v in add]
        self.drop = frozenset(n.lower().encode() for n in remove) | {s[0] for s in self.set}

    def apply(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        drop = self.drop
        out = [h for h in headers if h[0].lower() not in drop]
        out.extend((n, v) for _, n, v in self.set)
        out.extend(self.add)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "set": [[n.decode(), v.decode()] for _, n, v in self.set],
            "add": [[n.decode(), v.decode()] for n, v in self.add],
            "remove": sorted(d.decode() for d in self.drop),
        }


class PathChange:
    """ReplaceFullPath or ReplacePrefixMatch, shared by URLRewrite and RequestRedirect."""

    __slots__ = ("full", "value")

    def __init__(self, full: bool, value: str) -> None:
        self.full = full
        self.value = value

    def apply(self, path: str, matched_prefix: str | None) -> str:
        if self.full or matched_prefix is None:
            return self.value
        rest = path[len(matched_prefix) :]
        base = self.value.rstrip("/")
        if not rest or rest == "/":
            return (base + rest) or "/"
        return base + rest if rest.startswith("/") else base + "/" + rest


class Redirect:
    __slots__ = ("hostname", "path", "port", "scheme", "status")

    def __init__(
        self, scheme: str | None, hostname: str | None, port: int | None,
        path: PathChange | None, status: int,
    ) -> None:  # fmt: skip
        self.scheme, self.hostname, self.port, self.path, self.status = (
            scheme, hostname, port, path, status,
        )  # fmt: skip

    def location(
        self, req_scheme: str, host: str, listener_port: int, path: str, query: str | None,
        prefix: str | None,
    ) -> str:  # fmt: skip
        scheme = self.scheme or req_scheme
        hostname = self.hostname or host
        if self.port is not None:
            port = self.port
        elif self.scheme is not None:
            port = 443 if scheme == "https" else 80
        else:
            port = listener_port
        new_path = self.path.apply(path, prefix) if self.path else path
        default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
        netloc = hostname if default else f"{hostname}:{port}"
        loc = f"{scheme}://{netloc}{new_path}"
        return f"{loc}?{query}" if query else loc


class BackendTarget:
    """One backendRef after resolution. ``status`` 0 = usable, else the answer code."""

    __slots__ = ("h2", "label", "req_mods", "resp_mods", "ring", "stats", "status", "weight")

    def __init__(
        self, label: str, weight: int, status: int, endpoints: list[tuple[str, int]],
        stats: RouteStats, req_mods: HeaderMods | None = None,
        resp_mods: HeaderMods | None = None, h2: bool = False,
    ) -> None:  # fmt: skip
        self.label = label
        self.weight = weight
        self.status = status
        self.ring = EndpointRing(endpoints)
        self.stats = stats
        self.req_mods = req_mods
        self.resp_mods = resp_mods
        self.h2 = h2


class Mirror:
    __slots__ = ("denominator", "numerator", "target")

    def __init__(self, target: BackendTarget, numerator: int, denominator: int) -> None:
        self.target, self.numerator, self.denominator = target, numerator, denominator


class Action:
    """What a matched rule does: filters, then a weighted choice of backends."""

    __slots__ = (
        "backends", "fixed_status", "mirrors", "none_stats", "redirect", "req_mods",
        "resp_mods", "rewrite_host", "rewrite_path", "route", "rule", "timeout",
        "timeout_backend", "timeout_request",
    )  # fmt: skip

    def __init__(self, route: str, rule: str, none_stats: RouteStats) -> None:
        self.route = route
        self.rule = rule
        self.none_stats = none_stats
        self.backends: SmoothWeighted[BackendTarget] = SmoothWeighted([])
        self.fixed_status = 0
        self.req_mods: HeaderMods | None = None
        self.resp_mods: HeaderMods | None = None
        self.redirect: Redirect | None = None
        self.rewrite_host: bytes | None = None
        self.rewrite_path: PathChange | None = None
        self.mirrors: tuple[Mirror, ...] = ()
        self.timeout_request: float | None = None
        self.timeout_backend: float | None = None
        self.timeout: float | None = None  # the shorter of the two, what the proxy arms


class QueryParams:
    """A request's query string, parsed the first time a match asks for a parameter (most
    requests meet no query match) and then shared by every candidate match."""

    __slots__ = ("parsed", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.parsed: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        params = self.parsed
        if params is None:
            params = self.parsed = {}
            for k, v in parse_qsl(self.raw, keep_blank_values=True):
                params.setdefault(k, v)  # the first value of a repeated parameter counts
        return params.get(name)


class Match:
    """One HTTPRouteMatch with its precedence key and the rule action it leads to."""

    __slots__ = ("action", "headers", "method", "path_kind", "path_value", "prefix",
                 "query", "regex", "sort_key")  # fmt: skip

    def __init__(
        self, action: Action, path_kind: str, path_value: str, method: bytes | None,
        headers: list[tuple[bytes, bytes | re.Pattern[bytes]]],
        query: list[tuple[str, str | re.Pattern[str]]], sort_key: tuple[Any, ...],
    ) -> None:  # fmt: skip
        self.action = action
        self.path_kind = path_kind
        self.path_value = path_value
        self.prefix = path_value.rstrip("/") if path_kind == "PathPrefix" else None
        self.regex = re.compile(path_value) if path_kind == "RegularExpression" else None
        self.method = method
        self.headers = headers
        self.query = query
        self.sort_key = sort_key

    def conditions(self, method: bytes, headers: Mapping[bytes, bytes],
                   query: QueryParams | None) -> bool:  # fmt: skip
        if self.method is not None and self.method != method:
            return False
        for name, want in self.headers:
            got = headers.get(name)
            if got is None or not (got == want if isinstance(want, bytes) else want.fullmatch(got)):
                return False
        if self.query:
            for qname, qwant in self.query:
                qgot = query.get(qname) if query is not None else None
                if qgot is None or not (
                    qgot == qwant if isinstance(qwant, str) else qwant.fullmatch(qgot)
                ):
                    return False
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "path": {"type": self.path_kind, "value": self.path_value},
            "method": self.method.decode() if self.method else None,
            "headers": [
                [n.decode(), v if isinstance(v, bytes) else v.pattern] for n, v in self.headers
            ],
            "queryParams": [[n, v if isinstance(v, str) else v.pattern] for n, v in self.query],
            "route": self.action.route,
            "rule": self.action.rule,
        }


class Group:
    """All matches of one hostname level, indexed by path."""

    __slots__ = ("exact", "prefix", "regex")

    def __init__(self, matches: list[Match]) -> None:
        matches = sorted(matches, key=lambda m: m.sort_key)
        self.exact: dict[str, list[Match]] = {}
        self.prefix: dict[str, list[Match]] = {}
        self.regex: list[Match] = []
        for m in matches:
            if m.path_kind == "Exact":
                self.exact.setdefault(m.path_value, []).append(m)
            elif m.path_kind == "PathPrefix":
                self.prefix.setdefault(m.prefix or "", []).append(m)
            else:
                self.regex.append(m)

    def find(
        self, path: str, method: bytes, headers: Mapping[bytes, bytes], query: QueryParams | None
    ) -> Match | None:
        cands = self.exact.get(path)
        if cands is not None:
            for m in cands:
                if m.conditions(method, headers, query):
                    return m
        for m in self.regex:
            if (
                m.regex is not None
                and m.regex.fullmatch(path)
                and m.conditions(method, headers, query)
            ):
                return m
        prefix = self.prefix
        if prefix:
            key = path.rstrip("/")
            while True:
                cands = prefix.get(key)
                if cands is not None:
                    for m in cands:
                        if m.conditions(method, headers, query):
                            return m
                if not key:
                    return None
                key = key[: key.rfind("/")]
        return None

    def all(self) -> list[Match]:
        out = [m for ms in self.exact.values() for m in ms] + list(self.regex)
        out += [m for ms in self.prefix.values() for m in ms]
        return sorted(out, key=lambda m: m.sort_key)


class ListenerTable:
    """Routes attached to one listener, grouped by effective hostname."""

    __slots__ = ("catch_all", "gateway", "groups", "hostname", "name", "port", "scheme")

    def __init__(
        self, gateway: str, name: str, hostname: str | None, port: int, scheme: str,
        groups: dict[str, Group], catch_all: Group | None,
    ) -> None:  # fmt: skip
        self.gateway, self.name, self.hostname, self.port, self.scheme = (
            gateway, name, hostname, port, scheme,
        )  # fmt: skip
        self.groups = groups
        self.catch_all = catch_all

    def find(
        self, host: str, path: str, method: bytes, headers: Mapping[bytes, bytes],
        query: QueryParams | None,
    ) -> Match | None:
        groups = self.groups
        if groups:
            for key in host_keys(host):
                g = groups.get(key)
                if g is not None:
                    m = g.find(path, method, headers, query)
                    if m is not None:
                        return m
        if self.catch_all is not None:
            return self.catch_all.find(path, method, headers, query)
        return None


class PortTable:
    """The listeners sharing one port; Host picks the most specific one only."""

    __slots__ = ("catch_all", "listeners", "port", "scheme")

    def __init__(self, port: int, scheme: str, listeners: list[ListenerTable]) -> None:
        self.port = port
        self.scheme = scheme
        self.listeners: dict[str, ListenerTable] = {}
        self.catch_all: ListenerTable | None = None
        for lt in listeners:
            if lt.hostname is None:
                self.catch_all = self.catch_all or lt
            else:
                self.listeners.setdefault(lt.hostname, lt)

    def listener_for(self, host: str) -> ListenerTable | None:
        if self.listeners:
            for key in host_keys(host):
                lt = self.listeners.get(key)
                if lt is not None:
                    return lt
        return self.catch_all


class RoutingTable:
    """Every port the gateway serves, at one config generation."""

    __slots__ = ("generation", "ports")

    def __init__(self, generation: int, ports: dict[int, PortTable]) -> None:
        self.generation = generation
        self.ports = ports

    def to_dict(self) -> dict[str, Any]:
        """The compiled table, for the admin /config endpoint."""
        out: dict[str, Any] = {"generation": self.generation, "ports": {}}
        for port, pt in sorted(self.ports.items()):
            lts = list(pt.listeners.values()) + ([pt.catch_all] if pt.catch_all else [])
            listeners = []
            for lt in lts:
                levels = dict(lt.groups)
                if lt.catch_all is not None:
                    levels["*"] = lt.catch_all
                listeners.append({
                    "gateway": lt.gateway, "listener": lt.name, "hostname": lt.hostname,
                    "scheme": lt.scheme,
                    "hostnames": {h: [_describe(m) for m in g.all()] for h, g in levels.items()},
                })  # fmt: skip
            out["ports"][str(port)] = {"scheme": pt.scheme, "listeners": listeners}
        return out


def _describe(m: Match) -> dict[str, Any]:
    d = m.describe()
    a = m.action
    d["backends"] = [
        {"backend": t.label, "weight": w, "status": t.status, "endpoints": list(t.ring.endpoints)}
        for t, w in zip(a.backends._items, a.backends._weights, strict=True)
    ]
    if a.fixed_status:
        d["fixedStatus"] = a.fixed_status
    if a.redirect is not None:
        d["redirect"] = a.redirect.status
    return d
