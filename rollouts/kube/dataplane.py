"""Reading our own gateway's data plane back: which split is it serving right now?

A route's status says the gateway accepted a generation of it; the data plane's admin
API (``/config``, the compiled table that is serving) says which weights requests
actually follow. The operator trusts a step's weights from our gateway only when both
agree with the route.
"""

from __future__ import annotations

from typing import Any

import requests

__all__ = ["DataPlane"]


class DataPlane:
    """The admin API of our gateway at ``address`` (e.g. http://127.0.0.1:9901)."""

    def __init__(self, address: str, timeout: float = 2.0) -> None:
        self.address = address.rstrip("/")
        self.timeout = timeout

    def compiled(self) -> dict[str, Any]:
        answer = requests.get(f"{self.address}/config", timeout=self.timeout)
        answer.raise_for_status()
        config: dict[str, Any] = answer.json()
        return config

    @staticmethod
    def canary_share(config: dict[str, Any], namespace: str, route: str, canary: str,
                     stable: str) -> float | None:
        """The canary's share in the serving table for ``namespace/route`` (None: absent,
        or rules that disagree)."""
        shares = set()
        for port in (config.get("ports") or {}).values():
            for listener in port.get("listeners") or []:
                for matches in (listener.get("hostnames") or {}).values():
                    for match in matches:
                        if match.get("route") != f"{namespace}/{route}":
                            continue
                        weights = {"canary": 0, "stable": 0}
                        for backend in match.get("backends") or []:
                            label = str(backend.get("backend", "")).split(":")[0]
                            for role, service in (("canary", canary), ("stable", stable)):
                                if label == f"{namespace}/{service}":
                                    weights[role] += int(backend.get("weight") or 0)
                        total = weights["canary"] + weights["stable"]
                        if total:
                            shares.add(weights["canary"] / total)
        return shares.pop() if len(shares) == 1 else None
