"""Server-side printing: ``meta.k8s.io/v1`` Table responses for ``kubectl get``.

Custom resources print their ``additionalPrinterColumns`` (JSONPath subset: fields,
``[n]`` and ``[?(@.key=="value")]``); built-in kinds print the columns kubectl users
expect (pods READY/STATUS/RESTARTS, deployments READY/UP-TO-DATE/AVAILABLE, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rollouts.local.meta import parse_time
from rollouts.local.resources import ResourceType

__all__ = ["age", "jsonpath", "to_table", "want_table"]

Obj = dict[str, Any]
_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]"
)


def want_table(accept: str) -> bool:
    return "as=Table" in accept


def jsonpath(obj: Any, path: str) -> Any:
    cur: Any = obj
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    for m in _TOKEN.finditer(path):
        field, index, fkey, fval = m.groups()
        if field is not None:
            cur = cur.get(field) if isinstance(cur, dict) else None
        elif index is not None:
            cur = cur[int(index)] if isinstance(cur, list) and int(index) < len(cur) else None
        else:
            if not isinstance(cur, list):
                return None
            cur = next((i for i in cur if isinstance(i, dict) and str(i.get(fkey)) == fval), None)
        if cur is None:
            return None
    return cur


def age(ts: str | None, now: datetime | None = None) -> str:
    if not ts:
        return "<unknown>"
    then = parse_time(ts)
    if then is None:
        return "<unknown>"
    secs = int(((now or datetime.now(UTC)) - then).total_seconds())
    secs = max(secs, 0)
    if secs < 120:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60}s" if secs < 600 else f"{secs // 60}m"
    if secs < 86400:
        h, m = secs // 3600, (secs % 3600) // 60
        return f"{h}h{m}m" if h < 8 and m else f"{h}h"
    return f"{secs // 86400}d"


def _pods(o: Obj) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    phase = status.get("phase", "Pending")
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        phase = "Terminating"
    for s in statuses:
        waiting = (s.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            phase = waiting["reason"]
    return [f"{ready}/{len(spec.get('containers') or [])}", phase, restarts]


def _deploy(o: Obj) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
    ]


def _rs(o: Obj) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [spec.get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0)]


def _svc(o: Obj) -> list[Any]:
    spec = o.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), ports or "<none>"]


def _ns(o: Obj) -> list[Any]:
    return [(o.get("status") or {}).get("phase", "Active")]


def _node(o: Obj) -> list[Any]:
    conds = {
        c.get("type"): c.get("status") for c in (o.get("status") or {}).get("conditions") or []
    }
    version = ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return ["Ready" if conds.get("Ready") == "True" else "NotReady", "<none>", version]


_BUILTIN: dict[str, tuple[list[tuple[str, str]], Callable[[Obj], list[Any]]]] = {
    "/pods": ([("Ready", "string"), ("Status", "string"), ("Restarts", "integer")], _pods),
    "apps/deployments": (
        [("Ready", "string"), ("Up-to-date", "integer"), ("Available", "integer")],
        _deploy,
    ),
    "apps/replicasets": (
        [("Desired", "integer"), ("Current", "integer"), ("Ready", "integer")],
        _rs,
    ),
    "/services": ([("Type", "string"), ("Cluster-IP", "string"), ("Port(s)", "string")], _svc),
    "/namespaces": ([("Status", "string")], _ns),
    "/nodes": ([("Status", "string"), ("Roles", "string"), ("Version", "string")], _node),
}


def _pods_wide(o: Obj) -> list[Any]:
    status = o.get("status") or {}
    return [status.get("podIP") or "<none>", (o.get("spec") or {}).get("nodeName") or "<none>"]


def _rs_wide(o: Obj) -> list[Any]:
    spec = o.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    sel = ",".join(
        f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()
    )
    return [
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        sel,
    ]


_RS_WIDE_COLUMNS = [("Containers", "string"), ("Images", "string"), ("Selector", "string")]
_WIDE: dict[str, tuple[list[tuple[str, str]], Callable[[Obj], list[Any]]]] = {
    "/pods": ([("IP", "string"), ("Node", "string")], _pods_wide),
    "apps/deployments": (_RS_WIDE_COLUMNS, _rs_wide),
    "apps/replicasets": (_RS_WIDE_COLUMNS, _rs_wide),
}


def _columns(rt: ResourceType) -> tuple[list[dict[str, Any]], Callable[[Obj], list[Any]]]:
    name_col = {
        "name": "Name",
        "type": "string",
        "format": "name",
        "priority": 0,
        "description": "Name must be unique within a namespace.",
    }
    age_col = {
        "name": "Age",
        "type": "string",
        "format": "",
        "priority": 0,
        "description": "CreationTimestamp is when this object was created.",
    }
    if rt.custom and rt.printer_columns:
        cols = [
            {
                "name": c.get("name", ""),
                "type": c.get("type", "string"),
                "format": c.get("format", ""),
                "priority": c.get("priority", 0),
                "description": c.get("description", ""),
            }
            for c in rt.printer_columns
        ]
        paths = [c.get("jsonPath", "") for c in rt.printer_columns]
        has_age = any(p == ".metadata.creationTimestamp" for p in paths)

        def cells(o: Obj) -> list[Any]:
            out: list[Any] = []
            for c, p in zip(rt.printer_columns, paths, strict=True):
                v = jsonpath(o, p)
                if p == ".metadata.creationTimestamp" or c.get("type") == "date":
                    v = age(v) if v else "<unknown>"
                out.append(v if v is not None else None)
            return (
                out if has_age else [*out, age((o.get("metadata") or {}).get("creationTimestamp"))]
            )

        return [name_col, *cols, *([] if has_age else [age_col])], lambda o: [
            o["metadata"]["name"],
            *cells(o),
        ]
    extra, fn = _BUILTIN.get(rt.key, ([], lambda o: []))
    wide, wide_fn = _WIDE.get(rt.key, ([], lambda o: []))
    cols = [{"name": n, "type": t, "format": "", "priority": 0, "description": n} for n, t in extra]
    wide_cols = [
        {"name": n, "type": t, "format": "", "priority": 1, "description": n} for n, t in wide
    ]
    return [name_col, *cols, age_col, *wide_cols], lambda o: [
        o["metadata"]["name"],
        *fn(o),
        age((o.get("metadata") or {}).get("creationTimestamp")),
        *wide_fn(o),
    ]


def _row_object(o: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return o
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": o.get("metadata") or {},
    }


def to_table(
    rt: ResourceType,
    items: list[Obj],
    rv: str,
    include: str = "Metadata",
    with_columns: bool = True,
) -> Obj:
    cols, fn = _columns(rt)
    rows = [{"cells": fn(o), "object": _row_object(o, include)} for o in items]
    table: Obj = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": cols if with_columns else [],
        "rows": rows,
    }
    return table
