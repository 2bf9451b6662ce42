"""The status writer's barrier across worker processes (no cluster): workers publish the
route generations they serve; the writer waits for all of them before writing a
route's status, and after a timeout writes anyway (logged) rather than never."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from rollouts.gateway.server import GatewayServer
from rollouts.gateway.snapshot import build_snapshot
from rollouts.gateway.source import follow_events, route_key

from .conftest import (
    EventFeed,
    backend,
    free_port,
    gateway,
    gateway_class,
    listener,
    route,
    service,
)

KEY = route_key("HTTPRoute", "default", "r")
PORT = free_port()


def objects(generation: int, uid: str = "u1") -> list[dict[str, Any]]:
    r = route("r", [{"backendRefs": [backend("svc")]}], generation=generation)
    r["metadata"]["uid"] = uid
    return [gateway_class(), gateway("gw", [listener("http", PORT)]),
            *service("svc", [18081]), r]  # fmt: skip


def publish(stats: Path, worker: int, served: dict[str, Any]) -> None:
    (stats / f"serving-{worker}.json").write_text(json.dumps(served))


async def test_lagging_compares_uid_and_generation(tmp_path: Path) -> None:
    gw = GatewayServer(host="127.0.0.1", stats_dir=str(tmp_path), worker=0)
    wanted = {KEY: ("u1", 3)}
    publish(tmp_path, 0, {KEY: ["u1", 3]})
    assert gw.lagging(wanted, 2) == ["worker 1: nothing yet"]
    publish(tmp_path, 1, {KEY: ["u1", 2]})
    assert gw.lagging(wanted, 2) == [f"worker 1: {KEY} at generation 2, not 3"]
    publish(tmp_path, 1, {KEY: ["old-uid", 7]})  # a deleted route of the same name
    assert len(gw.lagging(wanted, 2)) == 1
    (late,) = gw.lagging(wanted, 2)
    assert late.startswith(f"worker 1: {KEY} "), late  # the newer generation does not count
    assert late == f"worker 1: {KEY} not served as object u1 yet (still old-uid)"
    publish(tmp_path, 1, {KEY: ["u1", 4]})  # already ahead: fine
    assert gw.lagging(wanted, 2) == []
    assert await gw.wait_for_workers(wanted, 2, timeout=1)
    assert GatewayServer(host="127.0.0.1").lagging(wanted, 2) == []  # one process
    await gw.close()


async def test_apply_publishes_what_this_worker_serves(tmp_path: Path) -> None:
    gw = GatewayServer(host="127.0.0.1", stats_dir=str(tmp_path), worker=1)
    await gw.apply(build_snapshot(objects(5)))
    assert json.loads((tmp_path / "serving-1.json").read_text()) == {KEY: ["u1", 5]}
    await gw.close()


async def test_status_waits_for_every_worker_then_times_out_loudly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gw = GatewayServer(host="127.0.0.1", stats_dir=str(tmp_path), worker=0)
    feed = EventFeed()
    queue, written, events, writer = feed.queue, feed.written, feed.events, feed.writer

    async def settle(routes: dict[str, tuple[str, int]]) -> None:
        await gw.wait_for_workers(routes, 2, timeout=1.0)

    def route_writes() -> list[int]:
        return [p["conditions"][0]["observedGeneration"] for u in written
                if u.kind == "HTTPRoute" for p in u.status["parents"]]

    publish(tmp_path, 1, {KEY: ["u1", 1]})
    task = asyncio.create_task(follow_events(gw, events(), writer, settle=settle))
    for obj in objects(1):
        await queue.put(("ADDED", obj))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if route_writes():
            break
    assert route_writes() == [1]  # worker 1 already served generation 1
    await queue.put(("MODIFIED", objects(2)[-1]))
    await asyncio.sleep(0.4)
    assert route_writes() == [1], "written before worker 1 serves generation 2"
    publish(tmp_path, 1, {KEY: ["u1", 2]})
    for _ in range(50):
        await asyncio.sleep(0.02)
        if route_writes() == [1, 2]:
            break
    assert route_writes() == [1, 2]
    with caplog.at_level(logging.WARNING, logger="rollouts.gateway.server"):
        await queue.put(("MODIFIED", objects(3)[-1]))  # worker 1 never gets there
        await asyncio.sleep(0.5)
        assert route_writes() == [1, 2]
        for _ in range(100):
            await asyncio.sleep(0.02)
            if route_writes() == [1, 2, 3]:
                break
    assert route_writes() == [1, 2, 3]
    assert "have not caught up after 1.0s" in caplog.text
    # one warning, naming who lags on what
    (warning,) = [r.getMessage() for r in caplog.records
                  if r.name == "rollouts.gateway.server" and r.levelno == logging.WARNING]
    assert warning == ("workers have not caught up after 1.0s, writing status anyway: "
                       f"worker 1: {KEY} at generation 2, not 3")  # fmt: skip
    await queue.put(None)
    await asyncio.wait_for(task, 5)
    await gw.close()
