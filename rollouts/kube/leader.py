"""Leader election on a coordination.k8s.io Lease, so two operator replicas can run.

The replica holding the Lease reconciles; the other waits and takes over when the
holder stops renewing for ``lease_seconds``. Writes use the Lease's resourceVersion,
so two candidates never both win.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.kube import names
from rollouts.kube.api import AlreadyExists, Conflict, Kube

__all__ = ["LeaderElector"]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class LeaderElector:
    def __init__(self, kube: Kube, name: str = "rollouts-operator", namespace: str = "default",
                 identity: str | None = None, lease_seconds: int = 15) -> None:
        self.kube = kube
        self.name = name
        self.namespace = namespace
        self.identity = identity or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the Lease; True if this replica holds it now."""
        now = now or datetime.now(UTC)
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_seconds,
                "renewTime": _stamp(now)}
        lease = self.kube.find(names.LEASE, self.name, self.namespace)
        if lease is None:
            try:
                self.kube.create(names.LEASE, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {**spec, "acquireTime": _stamp(now), "leaseTransitions": 0}},
                    self.namespace)
                return True
            except (AlreadyExists, Conflict):
                return False
        current: dict[str, Any] = lease.get("spec") or {}
        holder = current.get("holderIdentity")
        renewed = _parse(current.get("renewTime"))
        duration = int(current.get("leaseDurationSeconds") or self.lease_seconds)
        if holder not in (None, "", self.identity) and renewed is not None \
                and now < renewed + timedelta(seconds=duration):
            return False
        if holder != self.identity:
            spec["acquireTime"] = _stamp(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        lease["spec"] = {**current, **spec}
        try:
            self.kube.replace(names.LEASE, lease, self.namespace)
        except Conflict:
            return False
        return True

    async def acquire(self, poll: float = 2.0) -> None:
        """Wait until this replica holds the Lease."""
        while not await asyncio.to_thread(self.try_acquire):
            await asyncio.sleep(poll)

    async def hold(self) -> None:
        """Keep renewing; return when the Lease was lost to another replica."""
        while True:
            await asyncio.sleep(max(self.lease_seconds / 3, 0.5))
            if not await asyncio.to_thread(self.try_acquire):
                return

    def release(self) -> None:
        lease = self.kube.find(names.LEASE, self.name, self.namespace)
        if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
            lease["spec"]["holderIdentity"] = None
            with contextlib.suppress(Conflict):
                self.kube.replace(names.LEASE, lease, self.namespace)
