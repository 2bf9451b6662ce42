"""The web provider against a local aiohttp server."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from rollouts.analysis.providers.base import MeasurementError
from rollouts.analysis.providers.web import WebProvider
from rollouts.api.analysis import WebMetric

from ..conftest import serving

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def server():
    seen: list[dict] = []

    async def health(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "headers": dict(request.headers),
                     "body": await request.text()})
        return web.json_response({"data": {"ok": True, "rate": 0.98,
                                           "items": [{"v": 1}, {"v": 2}]}})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.json_response({})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain ok")

    app = web.Application()
    app.router.add_route("*", "/health", health)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    app.router.add_get("/text", text)
    async with serving(app) as address:
        yield f"http://{address}", seen


def _provider(**fields) -> WebProvider:
    return WebProvider(WebMetric.model_validate(fields))


async def test_get_with_json_path(server):
    base, seen = server
    result = await _provider(url=f"{base}/health", jsonPath="{$.data.ok}",
                             headers=[{"key": "X-Token", "value": "abc"}]).measure()
    assert result.result is True
    assert seen[-1]["headers"]["X-Token"] == "abc"


async def test_post_with_body_and_nested_path(server):
    base, seen = server
    result = await _provider(url=f"{base}/health", method="POST", body='{"q": 1}',
                             jsonPath="$.data.items[*].v").measure()
    assert result.result == [1, 2]
    assert seen[-1]["method"] == "POST" and seen[-1]["body"] == '{"q": 1}'


async def test_json_body_is_sent_as_json(server):
    base, seen = server
    await _provider(url=f"{base}/health", method="POST", jsonBody={"a": [1]}).measure()
    assert seen[-1]["body"] == '{"a": [1]}'
    assert seen[-1]["headers"]["Content-Type"] == "application/json"


async def test_whole_document_without_json_path(server):
    base, _ = server
    result = await _provider(url=f"{base}/health").measure()
    assert result.result["data"]["rate"] == 0.98
    assert (await _provider(url=f"{base}/text").measure()).result == "plain ok"


async def test_timeout_status_and_missing_path_are_errors(server):
    base, _ = server
    with pytest.raises(MeasurementError, match="did not answer within 1s"):
        await _provider(url=f"{base}/slow", timeoutSeconds=1).measure()
    with pytest.raises(MeasurementError, match="HTTP 500"):
        await _provider(url=f"{base}/broken").measure()
    with pytest.raises(MeasurementError, match="matched nothing"):
        await _provider(url=f"{base}/health", jsonPath="{$.data.missing}").measure()
    with pytest.raises(MeasurementError, match="failed"):
        await _provider(url="http://127.0.0.1:1/x").measure()
