"""HTTP routing of the Kubernetes REST API onto :class:`rollouts.local.api.Api`.

One catch-all aiohttp handler parses ``/api/v1/...`` and ``/apis/GROUP/VERSION/...``
paths (namespaced and cluster-scoped, ``/status`` and ``/scale`` subresources, the
legacy ``/watch/`` prefix) and answers discovery, OpenAPI, health and resource requests.
Errors are ``Status`` objects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from rollouts.local import discovery, errors, openapi, protobuf
from rollouts.local.api import Api
from rollouts.local.resources import ResourceType
from rollouts.local.scale import scale_of
from rollouts.local.tables import to_table, want_table
from rollouts.local.watch import WatchParams, serve_watch

__all__ = ["ApiHandler", "Target", "parse_target"]

JSON = "application/json"
log = logging.getLogger(__name__)


@dataclass
class Target:
    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str
    watch: bool


def parse_target(segments: list[str], known: set[str]) -> Target | None:
    """Parse the part after ``/api`` or ``/apis``; ``known`` holds the GV's plurals."""
    if not segments:
        return None
    if segments[0] == "v1" and len(segments) >= 2 and "." not in segments[0]:
        group, version, rest = "", segments[0], segments[1:]
    elif len(segments) >= 3:
        group, version, rest = segments[0], segments[1], segments[2:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    ns: str | None = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and rest[2] in known
        and not (group == "" and rest[2] in ("status", "finalize"))
    ):
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return Target(
        group,
        version,
        rest[0],
        ns,
        rest[1] if len(rest) > 1 else None,
        rest[2] if len(rest) > 2 else "",
        watch,
    )


def _json(data: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers = {}
    if warnings:
        headers["Warning"] = ", ".join(f'299 - "{w}"' for w in warnings)
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type=JSON,
        headers=headers,
    )


class ApiHandler:
    """The aiohttp request handler over one :class:`Api`."""

    def __init__(self, api: Api, bookmark_interval: float = 60.0) -> None:
        self.api = api
        self.bookmark_interval = bookmark_interval
        self.kubelet: Any = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except errors.ApiError as exc:
            return _json(exc.status(), exc.code)
        except Exception as exc:  # a bug must answer a Status, not kill the connection
            log.exception("%s %s failed", request.method, request.path)
            failure = errors.ApiError(500, "InternalError", f"Internal error occurred: {exc!r}")
            return _json(failure.status(), 500)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        reg = self.api.registry
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/version":
            return _json(discovery.version_info())
        if path == "/api":
            return _json(discovery.api_versions(f"{request.host}"))
        if path == "/apis":
            return _json(discovery.api_group_list(reg))
        if path == "/openapi/v2":
            if "protobuf" in request.headers.get("Accept", ""):
                return web.Response(
                    body=b"",
                    content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                )
            return _json(openapi.openapi_v2())
        if path == "/openapi/v3":
            return _json(openapi.openapi_v3_root(reg))
        if path.startswith("/openapi/v3/"):
            rel = path[len("/openapi/v3/") :].split("/")
            doc = None
            if rel[0] == "api" and len(rel) == 2:
                doc = openapi.openapi_v3_group(reg, "", rel[1])
            elif rel[0] == "apis" and len(rel) == 3:
                doc = openapi.openapi_v3_group(reg, rel[1], rel[2])
            if doc is None:
                raise errors.ApiError(
                    404, "NotFound", "the server could not find the requested resource"
                )
            return _json(doc)
        segs = [s for s in path.split("/") if s]
        if segs and segs[0] == "api":
            rest = segs[1:]
            if rest == ["v1"]:
                return _json(discovery.api_resource_list(reg, "", "v1"))
            known = {rt.plural for rt in reg.all() if rt.group == ""}
            target = parse_target(rest, known)
        elif segs and segs[0] == "apis":
            rest = segs[1:]
            if len(rest) == 1:
                doc = discovery.api_group(reg, rest[0])
                if doc is None:
                    raise errors.ApiError(
                        404, "NotFound", "the server could not find the requested resource"
                    )
                return _json(doc)
            if len(rest) == 2:
                doc = discovery.api_resource_list(reg, rest[0], rest[1])
                if doc is None:
                    raise errors.ApiError(
                        404, "NotFound", "the server could not find the requested resource"
                    )
                return _json(doc)
            known = {rt.plural for rt in reg.all() if rt.group == rest[0]}
            target = parse_target(rest, known)
        else:
            target = None
        if target is None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        rt = self.api.type_of(target.group, target.version, target.plural)
        if target.subresource == "log" and rt.key == "/pods" and request.method == "GET":
            return await self._pod_log(request, target)
        if target.subresource and (
            (target.subresource == "status" and not rt.status)
            or (target.subresource == "scale" and rt.scale is None)
            or target.subresource not in ("status", "scale")
        ):
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if rt.namespaced and target.namespace is None and target.name is not None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return await self._resource(request, rt, target)

    async def _pod_log(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        ns = t.namespace or ""
        container = request.query.get("container")
        self.api.get(self.api.type_of("", "v1", "pods"), ns, t.name)
        path = self.kubelet.log_path(ns, t.name, container) if self.kubelet else None
        if path is None or not path.exists():
            raise errors.bad_request(f'container is not running in pod "{t.name}"')
        data = path.read_bytes()
        tail = request.query.get("tailLines")
        if tail and tail.isdigit():
            data = b"".join(data.splitlines(keepends=True)[-int(tail) :]) if int(tail) else b""
        if request.query.get("follow") not in ("true", "1"):
            return web.Response(body=data, content_type="text/plain")
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        await resp.prepare(request)
        await resp.write(data)
        offset = path.stat().st_size
        # Follow until the client goes or the container's process is no longer ours.
        while self.kubelet.log_path(ns, t.name, container) == path:
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            size = path.stat().st_size if path.exists() else offset
            if size > offset:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read(size - offset)
                offset = size
                await resp.write(chunk)
            await asyncio.sleep(0.2)
        await resp.write_eof()
        return resp

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        ctype = request.headers.get("Content-Type", "")
        if "protobuf" in ctype:
            return protobuf.decode_object(raw)
        if "cbor" in ctype:
            raise errors.unsupported_media_type(
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/json, application/yaml (got {ctype})"
            )
        try:
            if "yaml" in ctype:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(
                f"the body of the request could not be decoded: {exc}"
            ) from None

    async def _resource(
        self, request: web.Request, rt: ResourceType, t: Target
    ) -> web.StreamResponse:
        q = request.query
        if (
            request.method == "GET"
            and t.name is None
            and (t.watch or q.get("watch", "") in ("true", "1"))
        ):
            params = WatchParams(q, request.headers.get("Accept", ""))
            return await serve_watch(
                request, self.api, rt, t.namespace, params, self.bookmark_interval
            )
        body = await self._body(request) if request.method != "GET" else None
        # Everything below is synchronous: a dry run cannot leak into other requests.
        dry = q.get("dryRun") == "All"
        if request.method == "DELETE" and isinstance(body, dict):
            dry = dry or "All" in (body.get("dryRun") or [])
        with self.api.dry_run(dry):
            return self._resource_op(request, rt, t, body)

    def _resource_op(
        self, request: web.Request, rt: ResourceType, t: Target, body: Any
    ) -> web.StreamResponse:
        api, q, method = self.api, request.query, request.method
        ns = t.namespace or ""
        accept = request.headers.get("Accept", "")
        validation = q.get("fieldValidation", "")
        warnings: list[str] = []
        if method == "GET" and t.name is None:
            items = api.list_objects(
                rt, t.namespace, q.get("labelSelector", ""), q.get("fieldSelector", "")
            )
            rv = str(api.store.rv)
            items, cont = _paginate(items, q.get("limit", ""), q.get("continue", ""), rv)
            if want_table(accept):
                table = to_table(rt, items, rv, q.get("includeObject", "Metadata"))
                if cont:
                    table["metadata"]["continue"] = cont
                return _json(table)
            meta: dict[str, Any] = {"resourceVersion": rv}
            if cont:
                meta["continue"] = cont
            return _json(
                {
                    "kind": rt.list_kind_name,
                    "apiVersion": rt.api_version,
                    "metadata": meta,
                    "items": items,
                }
            )
        if method == "GET":
            assert t.name is not None
            obj = api.get(rt, ns, t.name)
            if t.subresource == "scale":
                return _json(scale_of(rt, obj))
            if want_table(accept) and not t.subresource:
                return _json(
                    to_table(
                        rt,
                        [obj],
                        obj["metadata"]["resourceVersion"],
                        q.get("includeObject", "Metadata"),
                    )
                )
            return _json(obj)
        if method == "POST" and t.name is None:
            obj = api.create(rt, ns, body, validation, warnings)
            return _json(obj, 201, warnings)
        if method == "PUT" and t.name is not None:
            obj = api.update(rt, ns, t.name, body, t.subresource, validation, warnings)
            return _json(obj, 200, warnings)
        if method == "PATCH" and t.name is not None:
            ctype = request.headers.get("Content-Type", "")
            obj = api.patch(rt, ns, t.name, ctype, body, t.subresource, validation, warnings)
            return _json(obj, 200, warnings)
        if method == "DELETE":
            options = dict(body) if isinstance(body, dict) else {}
            if q.get("propagationPolicy"):
                options["propagationPolicy"] = q["propagationPolicy"]
            if t.name is None:
                gone = api.delete_collection(
                    rt,
                    t.namespace,
                    q.get("labelSelector", ""),
                    q.get("fieldSelector", ""),
                    options,
                )
                return _json(
                    {
                        "kind": rt.list_kind_name,
                        "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(api.store.rv)},
                        "items": gone,
                    }
                )
            obj, deleted = api.delete(rt, ns, t.name, options)
            return _json(obj, 200 if deleted else 202)
        raise errors.method_not_allowed(
            f"the server does not allow this method on the requested resource ({method})"
        )


def _paginate(
    items: list[dict[str, Any]], limit: str, cont: str, rv: str
) -> tuple[list[dict[str, Any]], str]:
    """A page of ``items`` (sorted by namespace and name) and the token for the next one.

    The token names the last item returned, so objects created or deleted between pages
    neither repeat nor push others out.
    """
    after: tuple[str, str] | None = None
    if cont:
        try:
            raw = json.loads(base64.urlsafe_b64decode(cont.encode()))
            after = (str(raw["ns"]), str(raw["name"]))
        except (ValueError, KeyError, TypeError):
            raise errors.bad_request("invalid continue token") from None

    def ident(o: dict[str, Any]) -> tuple[str, str]:
        meta = o.get("metadata") or {}
        return (meta.get("namespace", ""), meta.get("name", ""))

    if after is not None:
        items = [o for o in items if ident(o) > after]
    try:
        n = int(limit) if limit else 0
    except ValueError:
        n = 0
    if n <= 0 or len(items) <= n:
        return items if n <= 0 else items[:n], ""
    page = items[:n]
    last = ident(page[-1])
    token = json.dumps({"ns": last[0], "name": last[1], "rv": rv}).encode()
    return page, base64.urlsafe_b64encode(token).decode()
