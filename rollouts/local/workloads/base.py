"""A minimal level-triggered controller loop over the in-process store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from rollouts.local.api import Api
from rollouts.local.errors import ApiError
from rollouts.local.resources import ResourceType

__all__ = [
    "Controller",
    "controller_key",
    "controller_of",
    "controller_ref",
    "owned_by",
    "write_status",
]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Key = tuple[str, str]


def owned_by(obj: Obj, owner_uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == owner_uid and r.get("controller") for r in refs)


def controller_of(obj: Obj) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def controller_key(obj: Obj, kind: str) -> list[Key]:
    """The key of the ``kind`` object that controls ``obj``, if one does."""
    ref = controller_of(obj)
    if ref is None or ref.get("kind") != kind:
        return []
    return [(obj["metadata"].get("namespace", ""), ref.get("name", ""))]


def controller_ref(owner: Obj) -> dict[str, Any]:
    """The owner reference a controller puts on the objects it creates."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def write_status(api: Api, rt: ResourceType, obj: Obj, status: dict[str, Any]) -> Obj:
    """Write ``status`` through the status subresource unless it is unchanged."""
    if obj.get("status") == status:
        return obj
    meta = obj["metadata"]
    body = {"metadata": {"name": meta["name"]}, "status": status}
    return api.update(rt, meta.get("namespace", ""), meta["name"], body, "status")


class Controller:
    """Reconciles ``(namespace, name)`` keys of a primary resource.

    Subclasses set :attr:`primary` and :attr:`watches` (store keys) and implement
    :meth:`keys_for` (which primaries a change concerns) and :meth:`reconcile`, which may
    return a delay after which the key is reconciled again.
    """

    primary = ""
    watches: tuple[str, ...] = ()
    resync = 5.0

    def __init__(self, api: Api) -> None:
        self.api = api
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._pending: set[Key] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def keys_for(self, key: str, obj: Obj) -> list[Key]:
        meta = obj.get("metadata") or {}
        return [(meta.get("namespace", ""), meta.get("name", ""))]

    def reconcile(self, ns: str, name: str) -> float | None:
        raise NotImplementedError

    def enqueue(self, item: Key) -> None:
        if item not in self._pending:
            self._pending.add(item)
            self._queue.put_nowait(item)

    def enqueue_all(self) -> None:
        for obj in self.api.store.items(self.primary):
            meta = obj["metadata"]
            self.enqueue((meta.get("namespace", ""), meta["name"]))

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for key in self.watches:
            self._tasks.append(loop.create_task(self._feed(key)))
        self._tasks.append(loop.create_task(self._work()))
        self._tasks.append(loop.create_task(self._resync()))
        self.enqueue_all()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _feed(self, key: str) -> None:
        sub = self.api.store.subscribe(key)
        try:
            while True:
                change = await sub.queue.get()
                if change is None:
                    return
                for item in self.keys_for(key, change.obj):
                    self.enqueue(item)
        finally:
            sub.close()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            self.enqueue_all()

    def _later(self, item: Key, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.enqueue, item)

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            self._pending.discard(item)
            try:
                delay = self.reconcile(*item)
            except ApiError as exc:
                log.debug("%s %s: %s", type(self).__name__, item, exc.message)
                delay = 0.5
            except Exception:  # one bad object must not stop the controller
                log.exception("%s failed on %s", type(self).__name__, item)
                delay = 2.0
            if delay is not None:
                self._later(item, delay)
            await asyncio.sleep(0)
