"""The ``scale`` subresource: an ``autoscaling/v1`` Scale view of an object."""

from __future__ import annotations

from typing import Any

from rollouts.local.resources import ResourceType

__all__ = ["get_path", "scale_of", "set_path", "set_scale_replicas"]


def _parts(path: str) -> list[str]:
    return [p for p in path.strip(".").split(".") if p]


def get_path(obj: Any, path: str) -> Any:
    cur = obj
    for part in _parts(path):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = _parts(path)
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def _selector_string(sel: Any) -> str:
    if isinstance(sel, str):
        return sel
    if not isinstance(sel, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e.get("operator"), e.get("key"), ",".join(e.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({vals})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    spec = rt.scale
    assert spec is not None
    meta = obj.get("metadata") or {}
    if rt.custom:
        selector = get_path(obj, spec.label_selector_path) if spec.label_selector_path else None
    else:
        selector = get_path(obj, ".spec.selector")
    status: dict[str, Any] = {"replicas": get_path(obj, spec.status_replicas_path) or 0}
    sel = _selector_string(selector)
    if sel:
        status["selector"] = sel
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": get_path(obj, spec.spec_replicas_path) or 0},
        "status": status,
    }


def set_scale_replicas(rt: ResourceType, obj: dict[str, Any], replicas: int) -> dict[str, Any]:
    assert rt.scale is not None
    set_path(obj, rt.scale.spec_replicas_path, replicas)
    return obj
