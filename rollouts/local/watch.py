"""Watch streams: newline-delimited JSON events as kube-apiserver sends them.

A watch starts from a resourceVersion (events after it), or, with none, ``"0"`` or
``sendInitialEvents=true``, with synthetic ADDED events for the objects that exist
(then a BOOKMARK marked ``k8s.io/initial-events-end`` when asked). A version older than
the change log yields an ``ERROR`` event carrying a 410 ``Expired`` Status. Label and
field selectors turn objects that start or stop matching into ADDED and DELETED events.
Bookmarks are sent periodically when ``allowWatchBookmarks`` is set.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from rollouts.local.api import Api
from rollouts.local.errors import ApiError
from rollouts.local.resources import ResourceType
from rollouts.local.store import Change
from rollouts.local.tables import to_table

__all__ = ["WatchParams", "serve_watch"]


class WatchParams:
    def __init__(self, query: Any, accept: str) -> None:
        self.rv = query.get("resourceVersion", "")
        self.label_selector = query.get("labelSelector", "")
        self.field_selector = query.get("fieldSelector", "")
        self.bookmarks = query.get("allowWatchBookmarks", "") in ("true", "1")
        self.initial = query.get("sendInitialEvents", "") == "true"
        timeout = query.get("timeoutSeconds", "")
        self.timeout = float(timeout) if timeout else 1800.0
        self.table = "as=Table" in accept
        self.include = query.get("includeObject", "Metadata")


async def serve_watch(
    request: web.Request,
    api: Api,
    rt: ResourceType,
    ns: str | None,
    params: WatchParams,
    bookmark_interval: float,
) -> web.StreamResponse:
    store = api.store
    sub = store.subscribe(rt.key)
    try:
        backlog: list[Change] = []
        initial: list[dict[str, Any]] = []
        if not params.rv or params.rv == "0" or params.initial:
            initial = api.list_objects(rt, ns, params.label_selector, params.field_selector)
            last_rv = store.rv
        else:
            try:
                start = int(params.rv)
            except ValueError:
                raise ApiError(
                    400, "BadRequest", f"invalid resourceVersion {params.rv!r}"
                ) from None
            try:
                backlog = store.changes_since(rt.key, start)
            except ApiError as exc:
                resp = await _start(request)
                await _write(resp, {"type": "ERROR", "object": exc.status()})
                await resp.write_eof()
                return resp
            last_rv = start
        resp = await _start(request)
        state = _WatchState(api, rt, ns, params)
        if not initial and (params.label_selector or params.field_selector):
            current = api.list_objects(rt, ns, params.label_selector, params.field_selector)
            state.matching.update(_ident(o) for o in current)
        for obj in initial:
            await _write(resp, state.event("ADDED", obj))
            state.matching.add(_ident(obj))
        if params.initial:
            await _write(resp, state.bookmark(str(last_rv), initial_end=True))
        for old in backlog:
            ev = state.filter(old)
            if ev is not None:
                await _write(resp, ev)
            last_rv = old.rv
        deadline = time.monotonic() + params.timeout
        next_bookmark = time.monotonic() + bookmark_interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            wait = min(deadline - now, 1.0)
            try:
                change: Change | None = await asyncio.wait_for(sub.queue.get(), timeout=wait)
            except TimeoutError:
                if params.bookmarks and time.monotonic() >= next_bookmark:
                    await _write(resp, state.bookmark(str(max(last_rv, 0))))
                    next_bookmark = time.monotonic() + bookmark_interval
                continue
            if change is None:
                break
            if change.rv <= last_rv:
                continue
            last_rv = change.rv
            ev = state.filter(change)
            if ev is not None:
                await _write(resp, ev)
        await resp.write_eof()
        return resp
    except (ConnectionResetError, ConnectionError):
        return web.StreamResponse()
    finally:
        sub.close()


def _ident(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace", ""), meta.get("name", ""))


class _WatchState:
    def __init__(self, api: Api, rt: ResourceType, ns: str | None, params: WatchParams) -> None:
        self.api = api
        self.rt = rt
        self.ns = ns if rt.namespaced else None
        self.params = params
        self.matching: set[tuple[str, str]] = set()
        self.columns_sent = False

    def _wrap(self, obj: dict[str, Any]) -> dict[str, Any]:
        if not self.params.table:
            return obj
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        table = to_table(self.rt, [obj], rv, self.params.include, not self.columns_sent)
        self.columns_sent = True
        return table

    def event(self, typ: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {"type": typ, "object": self._wrap(obj)}

    def bookmark(self, rv: str, initial_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": rv}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {
            "type": "BOOKMARK",
            "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta},
        }

    def filter(self, change: Change) -> dict[str, Any] | None:
        obj = dict(change.obj)
        obj["apiVersion"] = self.rt.api_version
        obj["kind"] = self.rt.kind
        ident = _ident(obj)
        if self.ns is not None and ident[0] != self.ns:
            return None
        if not (self.params.label_selector or self.params.field_selector):
            return self.event(change.type, obj)
        matches = change.type != "DELETED" and self.api.matches(
            obj, self.params.label_selector, self.params.field_selector
        )
        was = ident in self.matching
        if change.type == "DELETED":
            if not was:
                return None
            self.matching.discard(ident)
            return self.event("DELETED", obj)
        if matches:
            self.matching.add(ident)
            return self.event("MODIFIED" if was else "ADDED", obj)
        if was:
            self.matching.discard(ident)
            return self.event("DELETED", obj)
        return None


async def _start(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json"
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    return resp


async def _write(resp: web.StreamResponse, event: dict[str, Any]) -> None:
    await resp.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
