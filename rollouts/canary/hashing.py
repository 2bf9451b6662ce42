"""Pod-template and step hashes: how the core tells one version from another.

A hash is computed from the canonical JSON of what it covers, so the same template
always gets the same hash, and encoded with Kubernetes' safe alphabet (no vowels,
so no words), ten characters long, like the ``pod-template-hash`` label.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["pod_template_hash", "steps_hash", "with_pod_defaults"]

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _safe_encode(digest: bytes, length: int = 10) -> str:
    number = int.from_bytes(digest[:16], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_SAFE_ALPHABET))
        chars.append(_SAFE_ALPHABET[index])
    return "".join(chars)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                   "failureThreshold": 3}
_CONTAINER_DEFAULTS = {"terminationMessagePath": "/dev/termination-log",
                       "terminationMessagePolicy": "File", "resources": {}}
_SPEC_DEFAULTS = {"restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                  "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                  "securityContext": {}}


def _container_defaults(container: Mapping[str, Any]) -> dict[str, Any]:
    out = {**_CONTAINER_DEFAULTS, **container}
    if "imagePullPolicy" not in container:
        image = str(container.get("image", ""))
        latest = image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]
        out["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    out["ports"] = [{"protocol": "TCP", **port} for port in container.get("ports") or []] \
        or None
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), Mapping):
            filled = {**_PROBE_DEFAULTS, **container[probe]}
            if isinstance(filled.get("httpGet"), Mapping):
                filled["httpGet"] = {"scheme": "HTTP", "path": "/", **filled["httpGet"]}
            out[probe] = filled
    return {k: v for k, v in out.items() if v is not None}


def with_pod_defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template as the API server stores it in a ReplicaSet: the defaults Kubernetes
    fills into a pod spec filled in here too, so a template copied back from a
    ReplicaSet (undo) has the same hash as the one it came from."""
    spec = dict(template.get("spec") or {})
    for key in ("containers", "initContainers"):
        if spec.get(key):
            spec[key] = [_container_defaults(c) for c in spec[key]]
    return {**dict(template), "spec": {**_SPEC_DEFAULTS, **spec}}


def pod_template_hash(template: Mapping[str, Any]) -> str:
    """The hash naming a ReplicaSet of this pod template (``<rollout>-<hash>``).

    Computed over the template with Kubernetes' pod defaults filled in, and without the
    ``rollouts-pod-template-hash`` label, so neither defaulting nor the label changes it.
    """
    template = with_pod_defaults(template)
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items()
              if k != "rollouts-pod-template-hash"}
    metadata["labels"] = labels
    template["metadata"] = metadata
    return _safe_encode(hashlib.sha256(_canonical(template)).digest())


def steps_hash(steps: Sequence[Any]) -> str:
    """A hash of the canary steps: a change of steps mid-rollout restarts from step 0."""
    return _safe_encode(hashlib.sha256(_canonical(list(steps))).digest())
