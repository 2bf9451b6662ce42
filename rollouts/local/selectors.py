"""Label and field selectors, parsed from query strings as Kubernetes writes them.

Label selectors support ``=``, ``==``, ``!=``, ``in (...)``, ``notin (...)``, ``key`` and
``!key``; field selectors support ``=``, ``==`` and ``!=`` on ``metadata.name``,
``metadata.namespace`` and a few well-known fields of built-in kinds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rollouts.local.errors import bad_request

__all__ = [
    "match_label_selector_obj",
    "parse_field_selector",
    "parse_label_selector",
    "selector_from_label_selector",
]

Matcher = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p for p in parts if p.strip()]


LabelTest = Callable[[dict[str, str]], bool]


def _label_eq(key: str, value: str, negate: bool) -> LabelTest:
    return lambda labels: (labels.get(key) == value) != negate


def _label_exists(key: str, negate: bool) -> LabelTest:
    return lambda labels: (key in labels) != negate


def _label_in(key: str, values: set[str], negate: bool) -> LabelTest:
    return lambda labels: (labels.get(key) in values) != negate


def _field_test(path: str, value: str, negate: bool) -> Matcher:
    return lambda obj: (_field_value(obj, path) == value) != negate


def parse_label_selector(selector: str) -> Callable[[dict[str, str]], bool]:
    """A predicate on a label map; ``400 BadRequest`` when the selector does not parse."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in _split(selector):
        m = _EQ_RE.match(part)
        if m:
            key, op, value = m.group(1), m.group(3), m.group(4)
            tests.append(_label_eq(key, value, op == "!="))
            continue
        m = _SET_RE.match(part)
        if m:
            neg, key, op, values = m.group(1), m.group(2), m.group(4), m.group(5)
            if op is None:
                tests.append(_label_exists(key, bool(neg)))
                continue
            if neg:
                raise bad_request(f"unable to parse requirement: {part.strip()!r}")
            vals = {v.strip() for v in values.split(",") if v.strip()}
            tests.append(_label_in(key, vals, op == "notin"))
            continue
        raise bad_request(f"unable to parse requirement: {part.strip()!r}")
    return lambda labels: all(t(labels) for t in tests)


def selector_from_label_selector(sel: dict[str, Any] | None) -> Callable[[dict[str, str]], bool]:
    """A predicate from a structured ``LabelSelector`` (matchLabels, matchExpressions).

    An empty or missing selector matches nothing, as controllers treat it.
    """
    if not sel:
        return lambda labels: False
    match_labels = dict(sel.get("matchLabels") or {})
    exprs = list(sel.get("matchExpressions") or [])
    if not match_labels and not exprs:
        return lambda labels: True

    def test(labels: dict[str, str]) -> bool:
        for k, v in match_labels.items():
            if labels.get(k) != v:
                return False
        for e in exprs:
            key, op, values = e.get("key"), e.get("operator"), set(e.get("values") or [])
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and labels.get(key) in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return True

    return test


def match_label_selector_obj(sel: dict[str, Any] | None, obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return selector_from_label_selector(sel)(labels)


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


_FIELD_RE = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$")
_ALLOWED_FIELDS = {
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "status.phase",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.podIP",
    "type",
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "reason",
    "regarding.name",
    "regarding.kind",
}


def parse_field_selector(selector: str) -> Matcher:
    tests: list[Matcher] = []
    for part in _split(selector):
        m = _FIELD_RE.match(part)
        if not m:
            raise bad_request(f"invalid selector: {part.strip()!r}")
        path, op, value = m.group(1), m.group(2), m.group(3)
        if path not in _ALLOWED_FIELDS:
            raise bad_request(f"field label not supported: {path}")
        tests.append(_field_test(path, value, op == "!="))
    return lambda obj: all(t(obj) for t in tests)
