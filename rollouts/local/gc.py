"""Garbage collection and namespace termination, run as one background task.

- Background cascade: an object whose ``ownerReferences`` all name objects that no
  longer exist is deleted (Kubernetes' garbage collector, background policy).
- Foreground cascade: an owner marked with the ``foregroundDeletion`` finalizer loses the
  finalizer once its dependents are gone; its dependents are deleted first.
- Namespaces being deleted have their contents deleted, then lose the ``kubernetes``
  finalizer and disappear.
- Core Events older than an hour are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from typing import Any

from rollouts.local.api import Api
from rollouts.local.errors import ApiError
from rollouts.local.meta import now_iso
from rollouts.local.resources import ResourceType

__all__ = ["GarbageCollector", "finish_task"]

log = logging.getLogger(__name__)
EVENT_TTL = 3600.0


class GarbageCollector:
    """Runs :meth:`sweep` whenever something is deleted, and every ``interval`` seconds."""

    def __init__(self, api: Api, interval: float = 2.0) -> None:
        self.api = api
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._next_expiry = 0.0
        api.on_delete.append(self._deleted)
        api.on_terminating.append(self._deleted)

    def _deleted(self, _rt: ResourceType, _obj: dict[str, Any]) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        # A flag as well as cancel(): in Python 3.11 wait_for() can swallow a cancellation.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            await finish_task(task)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            if time.monotonic() >= self._next_expiry:
                self._next_expiry = time.monotonic() + 60
                with contextlib.suppress(Exception):
                    self.expire_events()
            try:
                while not self._stopping and self.sweep():
                    await asyncio.sleep(0)
            except Exception:  # a bad object must not stop the collector
                log.exception("garbage collection sweep failed")

    def expire_events(self, ttl: float = EVENT_TTL) -> int:
        """Delete core Events older than ``ttl`` seconds, as kube-apiserver does (1 h)."""
        stamp = now_iso(-ttl)
        gone = 0
        for obj in list(self.api.store.items("/events")):
            last = (
                obj.get("lastTimestamp")
                or obj.get("eventTime")
                or (obj.get("metadata") or {}).get("creationTimestamp", "")
            )
            if str(last)[:20] < stamp:
                self.api.store.remove("/events", obj)
                gone += 1
        return gone

    def sweep(self) -> bool:
        """One pass; returns whether anything changed."""
        api = self.api
        objects = list(api.store.iter_all())
        uids = {(o.get("metadata") or {}).get("uid") for _k, o in objects}
        changed = False
        dependents: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for key, obj in objects:
            for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid", ""), []).append((key, obj))
        for key, obj in objects:
            meta = obj.get("metadata") or {}
            refs = meta.get("ownerReferences") or []
            if refs and not any(r.get("uid") in uids for r in refs):
                changed |= self._delete(key, obj)
                continue
            fins = meta.get("finalizers") or []
            if meta.get("deletionTimestamp") and "foregroundDeletion" in fins:
                deps = dependents.get(meta.get("uid", ""), [])
                if deps:
                    for dkey, dep in deps:
                        if not (dep.get("metadata") or {}).get("deletionTimestamp"):
                            changed |= self._delete(dkey, dep, "Foreground")
                else:
                    changed |= self._drop_finalizer(key, obj, "foregroundDeletion")
            if key == "/namespaces" and meta.get("deletionTimestamp"):
                changed |= self._terminate_namespace(obj, objects)
        return changed

    def _delete(self, key: str, obj: dict[str, Any], policy: str = "Background") -> bool:
        rt = self.api.registry.storage_type(key)
        if rt is None:
            return False
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return False
        try:
            self.api.delete(
                rt, meta.get("namespace", ""), meta["name"], {"propagationPolicy": policy}
            )
        except ApiError:
            return False
        return True

    def _drop_finalizer(self, key: str, obj: dict[str, Any], finalizer: str) -> bool:
        rt = self.api.registry.storage_type(key)
        if rt is None:
            return False
        new = copy.deepcopy(obj)
        new["metadata"]["finalizers"] = [
            f for f in new["metadata"].get("finalizers") or [] if f != finalizer
        ]
        self.api._commit(rt, copy.deepcopy(obj), new)
        return True

    def _terminate_namespace(self, ns_obj: dict[str, Any], objects: list[tuple[str, Any]]) -> bool:
        name = ns_obj["metadata"]["name"]
        remaining = [
            (k, o)
            for k, o in objects
            if k != "/namespaces" and (o.get("metadata") or {}).get("namespace") == name
        ]
        changed = False
        for key, obj in remaining:
            changed |= self._delete(key, obj)
        if not remaining and (ns_obj.get("spec") or {}).get("finalizers"):
            new = copy.deepcopy(ns_obj)
            new["spec"]["finalizers"] = []
            rt = self.api.registry.storage_type("/namespaces")
            if rt is not None:
                self.api._commit(rt, copy.deepcopy(ns_obj), new)
                changed = True
        return changed


async def finish_task(task: asyncio.Task[None], timeout: float = 5.0) -> None:
    """Wait for a task that was asked to stop; cancel it if it does not."""
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
    if task.done() and not task.cancelled():
        exc = task.exception()
        if exc is not None:
            log.warning("background task ended with %r", exc)
