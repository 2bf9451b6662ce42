from __future__ import annotations

from typing import Any

from .conftest import Harness, backend, basic


async def test_simple_proxy(h: Harness) -> None:
    await h.echo("v1")
    await h.start(basic(h, [{"backendRefs": [backend("v1")]}]))
    r = await h.request("/hello?x=1")
    assert r.status == 200
    assert r.backend == "v1"
    j: dict[str, Any] = r.json
    assert j["path"] == "/hello"
    assert j["query"] == "x=1"
    assert j["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert j["headers"]["x-forwarded-proto"] == "http"
