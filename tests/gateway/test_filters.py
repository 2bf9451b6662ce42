"""Filters: header modifiers, redirects, rewrites, mirrors, backend filters, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import Harness, backend, basic


def prefix(v: str) -> dict[str, Any]:
    return {"path": {"type": "PathPrefix", "value": v}}


async def test_request_header_modifier(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"filters": [{"type": "RequestHeaderModifier",
        "requestHeaderModifier": {"set": [{"name": "X-Set", "value": "s"}],
                                  "add": [{"name": "X-Add", "value": "a2"}],
                                  "remove": ["X-Drop"]}}],
        "backendRefs": [backend("a")]}]))  # fmt: skip
    r = await h.request("/", headers={"x-set": "old", "x-drop": "1", "x-keep": "k"})
    got = r.json["headers"]
    assert got["x-set"] == "s"
    assert got["x-add"] == "a2"
    assert "x-drop" not in got
    assert got["x-keep"] == "k"


async def test_response_header_modifier_and_backend_filters(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"filters": [{"type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": "X-Rule", "value": "r"}],
                                   "remove": ["content-type"]}}],
        "backendRefs": [backend("a", filters=[
            {"type": "RequestHeaderModifier",
             "requestHeaderModifier": {"set": [{"name": "x-backend-req", "value": "b"}]}},
            {"type": "ResponseHeaderModifier",
             "responseHeaderModifier": {"set": [{"name": "x-backend", "value": "renamed"}]}},
        ])]}]))  # fmt: skip
    r = await h.request("/")
    assert r.headers["x-rule"] == "r"
    assert "content-type" not in r.headers
    assert r.headers["x-backend"] == "renamed"
    assert r.json["headers"]["x-backend-req"] == "b"


@pytest.mark.parametrize(("flt", "path", "host", "code", "location"), [
    ({}, "/p?q=1", "a.example.com", 302, "http://a.example.com:{port}/p?q=1"),
    ({"scheme": "https"}, "/p", "a.example.com", 302, "https://a.example.com/p"),
    ({"scheme": "https", "port": 8443, "statusCode": 301}, "/p", "a.example.com", 301,
     "https://a.example.com:8443/p"),
    ({"hostname": "b.example.com", "port": 80, "statusCode": 303}, "/p", "a.example.com",
     303, "http://b.example.com/p"),
    ({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}, "statusCode": 307},
     "/old/x", "a.example.com", 307, "http://a.example.com:{port}/new"),
    ({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"},
      "statusCode": 308}, "/old/x", "a.example.com", 308, "http://a.example.com:{port}/v2/x"),
])  # fmt: skip
async def test_request_redirect(h: Harness, flt: dict[str, Any], path: str, host: str,
                                code: int, location: str) -> None:  # fmt: skip
    await h.start(basic(h, [{"matches": [prefix("/")] if "path" not in flt else [prefix("/old")],
                             "filters": [{"type": "RequestRedirect",
                                          "requestRedirect": flt}]}]))  # fmt: skip
    r = await h.request(path, host=host)
    assert r.status == code
    assert r.headers["location"] == location.format(port=h.port)


@pytest.mark.parametrize(("rewrite", "path", "want_path"), [
    ({"type": "ReplaceFullPath", "replaceFullPath": "/full"}, "/api/x/y", "/full"),
    ({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}, "/api/x/y", "/v2/x/y"),
    ({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}, "/api/x", "/x"),
    ({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}, "/api", "/v2"),
])  # fmt: skip
async def test_url_rewrite(h: Harness, rewrite: dict[str, Any], path: str, want_path: str
                           ) -> None:  # fmt: skip
    await h.echo("a")
    await h.start(basic(h, [{"matches": [prefix("/api")], "filters": [{"type": "URLRewrite",
        "urlRewrite": {"hostname": "internal.local", "path": rewrite}}],
        "backendRefs": [backend("a")]}]))  # fmt: skip
    r = await h.request(path + "?k=v")
    assert r.json["path"] == want_path
    assert r.json["query"] == "k=v"
    assert r.json["headers"]["host"] == "internal.local"


async def test_request_mirror_with_fraction(h: Harness) -> None:
    await h.echo("a", "shadow")
    await h.start(basic(h, [{"filters": [
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("shadow")}},
    ], "backendRefs": [backend("a")]}]))  # fmt: skip
    for _ in range(10):
        assert (await h.request("/", method="POST", data=b"payload")).backend == "a"
    assert h.gw is not None
    await h.gw.state.mirrorer.drain() if h.gw.state.mirrorer else None
    mirrored = [s for k, s in h.gw.registry.routes.items() if k[2].startswith("mirror:")]
    assert sum(s.counts[1] for s in mirrored) == 10
    # 0 percent mirrors nothing
    await h.apply(basic(h, [{"filters": [
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("shadow"),
                                                    "percent": 0}},
    ], "backendRefs": [backend("a")]}]))  # fmt: skip
    for _ in range(5):
        await h.request("/")
    assert sum(s.counts[1] for s in mirrored) == 10


async def test_backend_request_timeout_gives_504(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [{"timeouts": {"backendRequest": "100ms"},
                             "backendRefs": [backend("a")]}]))  # fmt: skip
    assert (await h.request("/delay/10")).status == 200
    t0 = asyncio.get_running_loop().time()
    assert (await h.request("/delay/2000")).status == 504
    assert asyncio.get_running_loop().time() - t0 < 1.5


async def test_redirect_and_rewrite_together_rejected(h: Harness) -> None:
    await h.echo("a")
    await h.start(basic(h, [
        {"matches": [prefix("/bad")], "filters": [
            {"type": "RequestRedirect", "requestRedirect": {"hostname": "x"}},
            {"type": "URLRewrite", "urlRewrite": {"hostname": "y"}}]},
        {"matches": [prefix("/good")], "backendRefs": [backend("a")]},
    ]))  # fmt: skip
    assert (await h.request("/bad")).status == 404
    assert (await h.request("/good")).backend == "a"


async def test_backend_filters_apply_only_to_their_backend(h: Harness) -> None:
    await h.echo("a", "b")
    tag = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"set": [{"name": "x-only-a", "value": "yes"}]},
    }
    await h.start(basic(h, [{"backendRefs": [backend("a", 1, filters=[tag]),
                                             backend("b", 1)]}]))  # fmt: skip
    seen = {}
    for _ in range(4):
        r = await h.request("/")
        seen[r.backend] = r.json["headers"].get("x-only-a")
    assert seen == {"a": "yes", "b": None}
