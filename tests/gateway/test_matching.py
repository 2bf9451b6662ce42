"""Rule choice, precedence, hostnames and listener isolation, through real requests."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Harness, backend, basic, gateway, gateway_class, listener, route


def rule(name: str, **match: Any) -> dict[str, Any]:
    return {"matches": [match] if match else [], "backendRefs": [backend(name)]}


@pytest.fixture
async def three(h: Harness) -> Harness:
    await h.echo("a", "b", "c")
    return h


async def test_exact_beats_prefix_and_prefix_is_segment_wise(three: Harness) -> None:
    h = three
    await h.start(basic(h, [
        rule("a", path={"type": "PathPrefix", "value": "/foo"}),
        rule("b", path={"type": "Exact", "value": "/foo"}),
    ]))  # fmt: skip
    assert (await h.request("/foo")).backend == "b"
    assert (await h.request("/foo/")).backend == "a"
    assert (await h.request("/foo/bar")).backend == "a"
    assert (await h.request("/foobar")).status == 404
    assert (await h.request("/")).status == 404


async def test_longest_prefix_wins_and_trailing_slash_ignored(three: Harness) -> None:
    h = three
    await h.start(basic(h, [
        rule("a", path={"type": "PathPrefix", "value": "/"}),
        rule("b", path={"type": "PathPrefix", "value": "/api/"}),
        rule("c", path={"type": "PathPrefix", "value": "/api/v2"}),
    ]))  # fmt: skip
    assert (await h.request("/api")).backend == "b"
    assert (await h.request("/api/v1/x")).backend == "b"
    assert (await h.request("/api/v2")).backend == "c"
    assert (await h.request("/api/v2/x")).backend == "c"
    assert (await h.request("/api/v22")).backend == "b"
    assert (await h.request("/other")).backend == "a"


async def test_regular_expression_path(three: Harness) -> None:
    h = three
    await h.start(basic(h, [
        rule("a", path={"type": "PathPrefix", "value": "/"}),
        rule("b", path={"type": "RegularExpression", "value": "/v[0-9]+/items"}),
    ]))  # fmt: skip
    assert (await h.request("/v12/items")).backend == "b"
    assert (await h.request("/v12/items/x")).backend == "a"  # full match only
    assert (await h.request("/vx/items")).backend == "a"


async def test_method_then_headers_then_query_precedence(three: Harness) -> None:
    h = three
    p = {"type": "PathPrefix", "value": "/"}
    await h.start(basic(h, [
        rule("a", path=p, headers=[{"name": "x-one", "value": "1"},
                                   {"name": "x-two", "value": "2"}]),
        rule("b", path=p, method="POST"),
        rule("c", path=p, queryParams=[{"name": "q", "value": "1"}]),
    ]))  # fmt: skip
    both = {"X-One": "1", "x-TWO": "2"}
    # method match outranks two header matches
    assert (await h.request("/", method="POST", headers=both)).backend == "b"
    # two header matches outrank a query match
    assert (await h.request("/?q=1", headers=both)).backend == "a"
    assert (await h.request("/?q=1")).backend == "c"
    assert (await h.request("/?q=2")).status == 404
    assert (await h.request("/", headers={"x-one": "1"})).status == 404


async def test_more_headers_win_and_regex_headers(three: Harness) -> None:
    h = three
    await h.start(basic(h, [
        rule("a", headers=[{"name": "env", "value": "canary"}]),
        rule("b", headers=[{"name": "env", "value": "canary"},
                           {"name": "user", "type": "RegularExpression", "value": "u[0-9]+"}]),
    ]))  # fmt: skip
    assert (await h.request("/", headers={"env": "canary", "user": "u42"})).backend == "b"
    assert (await h.request("/", headers={"env": "canary", "user": "x42"})).backend == "a"
    assert (await h.request("/", headers={"env": "stable"})).status == 404


async def test_query_regex_and_first_value(three: Harness) -> None:
    h = three
    await h.start(basic(h, [
        rule("a", queryParams=[{"name": "id", "type": "RegularExpression", "value": "[0-9]+"}]),
    ]))  # fmt: skip
    assert (await h.request("/?id=123")).backend == "a"
    assert (await h.request("/?id=12a")).status == 404
    assert (await h.request("/?other=1")).status == 404


async def test_ties_across_routes_oldest_then_name_then_rule_order(three: Harness) -> None:
    h = three
    objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
    for n in ("a", "b", "c"):
        objs += h.svc(n)
    p = {"path": {"type": "PathPrefix", "value": "/x"}}
    objs += [
        route("zz-old", [{"matches": [p], "backendRefs": [backend("a")]}],
              created="2024-01-01T00:00:00Z"),
        route("aa-new", [{"matches": [p], "backendRefs": [backend("b")]}],
              created="2025-01-01T00:00:00Z"),
        route("m1", [{"matches": [{"path": {"type": "PathPrefix", "value": "/y"}}],
                      "backendRefs": [backend("b")]}], created="2024-06-01T00:00:00Z"),
        route("m0", [{"matches": [{"path": {"type": "PathPrefix", "value": "/y"}}],
                      "backendRefs": [backend("c")]}], created="2024-06-01T00:00:00Z"),
        route("rules", [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/z"}}],
             "backendRefs": [backend("c")]},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/z"}}],
             "backendRefs": [backend("a")]},
        ]),
    ]  # fmt: skip
    await h.start(objs)
    assert (await h.request("/x")).backend == "a"  # oldest route
    assert (await h.request("/y")).backend == "c"  # same age: default/m0 < default/m1
    assert (await h.request("/z")).backend == "c"  # first rule in the route


async def test_hostnames_exact_wildcard_apex_and_port_ignored(three: Harness) -> None:
    h = three
    objs = [gateway_class(), gateway("gw", [listener("http", h.port)])]
    for n in ("a", "b", "c"):
        objs += h.svc(n)
    objs += [
        route("wild", [rule("a")], hostnames=["*.example.com"]),
        route(
            "exact",
            [rule("b", path={"type": "Exact", "value": "/"})],
            hostnames=["foo.example.com"],
        ),
        route("any", [rule("c", path={"type": "PathPrefix", "value": "/any"})]),
    ]
    await h.start(objs)
    assert (await h.request("/", host="foo.example.com")).backend == "b"
    assert (await h.request("/", host="FOO.example.com:8080")).backend == "b"
    assert (await h.request("/x", host="foo.example.com")).backend == "a"
    assert (await h.request("/", host="bar.example.com")).backend == "a"
    assert (await h.request("/", host="a.b.example.com")).backend == "a"
    assert (await h.request("/", host="example.com")).status == 404  # apex not covered
    assert (await h.request("/any", host="example.com")).backend == "c"
    # a more specific hostname level without a matching rule falls back to wider ones
    assert (await h.request("/any", host="foo.example.com")).backend == "a"
    assert (await h.request("/any", host="other.org")).backend == "c"


async def test_listener_isolation(three: Harness) -> None:
    h = three
    objs = [gateway_class(), gateway("gw", [
        listener("wild", h.port, "*.example.com"),
        listener("foo", h.port, "foo.example.com"),
        listener("rest", h.port),
    ])]  # fmt: skip
    for n in ("a", "b", "c"):
        objs += h.svc(n)
    objs += [
        route("ra", [rule("a", path={"type": "PathPrefix", "value": "/a"})],
              parents=[{"name": "gw", "sectionName": "wild"}]),
        route("rb", [rule("b", path={"type": "PathPrefix", "value": "/b"})],
              parents=[{"name": "gw", "sectionName": "foo"}]),
        route("rc", [rule("c")], parents=[{"name": "gw", "sectionName": "rest"}]),
    ]  # fmt: skip
    await h.start(objs)
    assert (await h.request("/b", host="foo.example.com")).backend == "b"
    # foo.example.com belongs to the "foo" listener only: the wildcard and catch-all
    # listeners' routes are never used for it, even when nothing else matches
    assert (await h.request("/a", host="foo.example.com")).status == 404
    assert (await h.request("/x", host="foo.example.com")).status == 404
    assert (await h.request("/a", host="bar.example.com")).backend == "a"
    assert (await h.request("/b", host="bar.example.com")).status == 404
    assert (await h.request("/a", host="other.org")).backend == "c"


async def test_route_hostnames_intersect_listener_hostname(three: Harness) -> None:
    h = three
    objs = [gateway_class(), gateway("gw", [listener("l", h.port, "*.example.com")])]
    objs += h.svc("a") + h.svc("b")
    objs += [
        route("narrow", [rule("a")], hostnames=["foo.example.com", "other.org"]),
        route("inherit", [rule("b")]),
    ]
    await h.start(objs)
    assert (await h.request("/", host="foo.example.com")).backend == "a"
    assert (await h.request("/", host="bar.example.com")).backend == "b"
    assert (await h.request("/", host="other.org")).status == 404


async def test_no_route_no_listener_404(three: Harness) -> None:
    h = three
    await h.start(basic(h, [rule("a")], hostname="only.example.com"))
    assert (await h.request("/", host="nope.example.com")).status == 404
    assert (await h.request("/", host="only.example.com")).backend == "a"
