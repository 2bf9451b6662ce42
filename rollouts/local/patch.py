"""The three patch formats of the Kubernetes API.

- JSON merge patch (RFC 7386, ``application/merge-patch+json``);
- JSON patch (RFC 6902, ``application/json-patch+json``);
- strategic merge patch (``application/strategic-merge-patch+json``) for built-in
  kinds: lists of objects named in :data:`MERGE_KEYS` merge by key, ``finalizers`` merge
  as a set, and the directives ``$patch``, ``$setElementOrder/``, ``$retainKeys`` and
  ``$deleteFromPrimitiveList/`` that ``kubectl apply`` sends are honoured.
"""

from __future__ import annotations

import copy
from typing import Any

from rollouts.local.errors import ApiError, bad_request

__all__ = ["MERGE_KEYS", "json_merge_patch", "json_patch", "strategic_merge_patch"]


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = json_merge_patch(out.get(key), value)
    return out


# -- JSON patch ---------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise _unprocessable(f"doc is missing path: {path!r}")
            cur = cur[p]
        elif isinstance(cur, list):
            idx = _index(p, len(cur) - 1, path)
            cur = cur[idx]
        else:
            raise _unprocessable(f"doc is missing path: {path!r}")
    return cur


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def _index(p: str, maximum: int, path: str) -> int:
    try:
        idx = int(p)
    except ValueError:
        raise _unprocessable(f"invalid array index {p!r} in {path!r}") from None
    if idx < 0 or idx > maximum:
        raise _unprocessable(f"array index {idx} out of bounds in {path!r}")
    return idx


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        else:
            parent.insert(_index(last, len(parent), path), copy.deepcopy(value))
    else:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise _unprocessable("cannot remove the whole document")
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(last, len(parent) - 1, path))
    raise _unprocessable(f"doc is missing path: {path!r}")


def json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 patch; a failed ``test`` or a missing path is ``422``."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, op.get("value"))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            parts = _pointer(path)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
                continue
            _resolve(doc, parts, path)
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, op.get("value"))
        elif kind == "move":
            doc, value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            value = _resolve(doc, _pointer(op["from"]), op["from"])
            doc = _add(doc, path, value)
        elif kind == "test":
            value = _resolve(doc, _pointer(path), path)
            if value != op.get("value"):
                raise _unprocessable(f"testing value {path} failed")
        else:
            raise bad_request(f"unknown json patch operation {kind!r}")
    return doc


# -- strategic merge patch ----------------------------------------------------------------

# List fields of built-in kinds that merge by a key, by field name. ``ports`` depends on
# the context: container ports merge on containerPort, Service ports on port.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "conditions": "type",
    "ownerReferences": "uid",
    "ephemeralContainerStatuses": "name",
    "readinessGates": "conditionType",
}
_PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(field: str, path: tuple[str, ...]) -> str | None:
    if field == "ports":
        # Container ports merge on containerPort, Service ports on port.
        in_container = any(
            p in ("containers", "initContainers", "ephemeralContainers") for p in path
        )
        return "containerPort" if in_container else "port"
    return MERGE_KEYS.get(field)


def strategic_merge_patch(original: Any, patch: Any) -> Any:
    """Apply a strategic merge patch to a built-in object."""
    return _smp_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch, ())


def _smp_map(orig: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    deletes: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value or []
        elif key.startswith("$deleteFromPrimitiveList/"):
            deletes[key.split("/", 1)[1]] = value or []
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            orig.pop(key, None)
            continue
        cur = orig.get(key)
        if isinstance(value, dict) and isinstance(cur, dict):
            orig[key] = _smp_map(cur, value, (*path, key))
        elif isinstance(value, dict):
            orig[key] = _smp_map({}, value, (*path, key))
        elif isinstance(value, list):
            orig[key] = _smp_list(key, cur if isinstance(cur, list) else [], value, (*path, key))
        else:
            orig[key] = copy.deepcopy(value)
    for key, values in deletes.items():
        if isinstance(orig.get(key), list):
            orig[key] = [v for v in orig[key] if v not in values]
    for key, order in orders.items():
        if isinstance(orig.get(key), list):
            orig[key] = _reorder(key, orig[key], order, (*path, key))
    if isinstance(retain, list):
        keep = set(retain)
        for key in list(orig):
            if key not in keep:
                del orig[key]
    return orig


def _smp_list(field: str, cur: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    if field in _PRIMITIVE_MERGE:
        out = list(cur)
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    key = _merge_key(field, path)
    if key is None:
        return [v for v in copy.deepcopy(patch) if not (isinstance(v, dict) and "$patch" in v)]
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [copy.deepcopy(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    out = [copy.deepcopy(v) for v in cur]
    for item in patch:
        if not isinstance(item, dict):
            continue
        ident = item.get(key)
        idx = next(
            (i for i, v in enumerate(out) if isinstance(v, dict) and v.get(key) == ident), None
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_smp_map({}, item, path))
        else:
            out[idx] = _smp_map(out[idx], item, path)
    return out


def _reorder(field: str, items: list[Any], order: list[Any], path: tuple[str, ...]) -> list[Any]:
    if field in _PRIMITIVE_MERGE or not items or not isinstance(items[0], dict):
        rank = {repr(v): i for i, v in enumerate(order)}
        return sorted(items, key=lambda v: rank.get(repr(v), len(rank)))
    key = _merge_key(field, path)
    if key is None:
        return items
    rank = {repr(o.get(key)): i for i, o in enumerate(order) if isinstance(o, dict)}
    return sorted(items, key=lambda v: rank.get(repr(v.get(key)), len(rank)))
