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

__all__ = ["pod_template_hash", "steps_hash"]

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


def pod_template_hash(template: Mapping[str, Any]) -> str:
    """The hash naming a ReplicaSet of this pod template (``<rollout>-<hash>``).

    The ``pod-template-hash`` label itself is left out, so adding it does not change
    the hash.
    """
    template = dict(template)
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items()
              if k != "rollouts-pod-template-hash"}
    metadata["labels"] = labels
    template["metadata"] = metadata
    return _safe_encode(hashlib.sha256(_canonical(template)).digest())


def steps_hash(steps: Sequence[Any]) -> str:
    """A hash of the canary steps: a change of steps mid-rollout restarts from step 0."""
    return _safe_encode(hashlib.sha256(_canonical(list(steps))).digest())
