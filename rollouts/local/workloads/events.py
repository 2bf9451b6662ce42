"""Events the local controllers and kubelet record, as their Kubernetes counterparts do.

They are core/v1 Events (``kubectl describe`` and ``kubectl get events`` show them):
``ScalingReplicaSet`` from the Deployment controller, ``SuccessfulCreate`` and
``SuccessfulDelete`` from the ReplicaSet controller, ``Scheduled``, ``Started``,
``BackOff`` and ``Killing`` from the kubelet. Events older than an hour are removed by the
garbage collector.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from rollouts.local.api import Api
from rollouts.local.errors import ApiError
from rollouts.local.meta import now_iso

__all__ = ["record_event"]

log = logging.getLogger(__name__)


def record_event(
    api: Api,
    obj: dict[str, Any],
    reason: str,
    message: str,
    component: str,
    type_: str = "Normal",
) -> None:
    """Record an Event about ``obj``; failures are logged, never raised."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    now = now_iso()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta.get('name', 'object')}.{secrets.token_hex(8)}",
            "namespace": ns,
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": meta.get("name", ""),
            "namespace": ns,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component, "host": "local"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": "local",
    }
    try:
        api.create(api.type_of("", "v1", "events"), ns, event)
    except ApiError as exc:
        log.debug("event %s on %s: %s", reason, meta.get("name"), exc.message)
