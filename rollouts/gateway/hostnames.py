"""Hostname rules of the Gateway API: normalisation, wildcard matching, intersection.

Why this exists: listener selection, route attachment and the request-time lookup all
need the same notion of "covers" and "intersects"; keeping it in one small pure module
keeps those three consistent.
"""

from __future__ import annotations

__all__ = ["covers", "host_keys", "intersect", "normalize_host", "specificity"]


def normalize_host(host: str) -> str:
    """Lower-case, strip the port and a trailing dot (the port in Host is ignored)."""
    h = host.strip().lower()
    if h.startswith("["):  # IPv6 literal
        end = h.find("]")
        return h[: end + 1] if end >= 0 else h
    colon = h.rfind(":")
    if colon >= 0:
        h = h[:colon]
    return h.rstrip(".")


def covers(pattern: str, host: str) -> bool:
    """True when ``pattern`` (exact or ``*.suffix``) matches the concrete ``host``.

    ``*.example.com`` matches ``a.example.com`` and ``a.b.example.com`` but not the apex.
    """
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def intersect(listener: str | None, route: str) -> str | None:
    """The hostname a route hostname serves on a listener, or None when disjoint.

    Both may be wildcards; the result is the more specific of the two.
    """
    if listener is None or listener == route:
        return route
    lw, rw = listener.startswith("*."), route.startswith("*.")
    if lw and not rw:
        return route if covers(listener, route) else None
    if rw and not lw:
        return listener if covers(route, listener) else None
    if lw and rw:
        if route.endswith(listener[1:]):
            return route
        if listener.endswith(route[1:]):
            return listener
    return None


def specificity(hostname: str | None) -> tuple[int, int]:
    """Sort key, larger is more specific: exact before wildcard, then length."""
    if hostname is None:
        return (0, 0)
    if hostname.startswith("*."):
        return (1, len(hostname))
    return (2, len(hostname))


def host_keys(host: str) -> list[str]:
    """Keys a concrete host can be served under, most specific first.

    ``a.b.example.com`` -> ``[a.b.example.com, *.b.example.com, *.example.com, *.com]``.
    """
    keys = [host]
    i = host.find(".")
    while i >= 0:
        keys.append("*" + host[i:])
        i = host.find(".", i + 1)
    return keys
