"""gRPC through the gateway when real HTTP/2 peers do what they do in production.

Why this exists: backends drain with a graceful GOAWAY on every rollout, cap their
concurrent streams, go away and come back; clients stop reading, cancel calls and
upload to backends that are busy. Hand-made frames never do any of that, so these
tests use grpcio on both sides (see ``test_grpc_interop`` for the backend and client).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .conftest import Harness, backend, gateway, gateway_class, listener, route, service

# skipped without grpcio, except in CI (CI=true), which must have it: there the import
# error fails the run instead. Before the import below, which needs grpcio too.
grpc = importlib.import_module("grpc") if os.environ.get("CI") else pytest.importorskip("grpc")

from .test_grpc_interop import TIMEOUT, Backend, Env  # noqa: E402

Make = Callable[..., Awaitable[Env]]


@pytest.fixture
async def solo(h: Harness) -> AsyncIterator[Make]:
    """Starts one grpcio backend behind a catch-all GRPCRoute; cleans up after."""
    made: list[Env] = []

    async def make(name: str, options: list[tuple[str, Any]] | None = None) -> Env:
        b = Backend(name, options)
        rules = [{"backendRefs": [backend(name)]}]
        await h.start([gateway_class(), gateway("gw", [listener("grpc", h.port)]),
                       *service(name, [b.port]), route("r", rules, kind="GRPCRoute")])  # fmt: skip
        made.append(Env(h, b, b))
        return made[-1]

    try:
        yield make
    finally:
        for env in made:
            env.channel.close()
            env.stable.release.set()
            await asyncio.to_thread(env.stable.stop)


def wait_for(cond: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + TIMEOUT / 2
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.005)


async def test_graceful_backend_shutdown_lets_in_flight_calls_finish(solo: Make) -> None:
    env = await solo("old")
    b = env.stable

    def run() -> None:
        assert env.unary("/pkg.Echo/Unary", b"warm")[0] == b"warm"  # a pooled connection
        slow = env.channel.unary_unary("/pkg.Echo/Slow")
        futs = [slow.future(b"", timeout=TIMEOUT) for _ in range(3)]
        wait_for(lambda: b.calls.count("/pkg.Echo/Slow") == 3, "the calls to start")
        stopping = b.server.stop(grace=TIMEOUT)  # GOAWAY now, then wait for those calls
        time.sleep(0.3)  # the GOAWAY reaches the gateway while the calls are in flight
        b.release.set()
        assert [f.result() for f in futs] == [b"old"] * 3
        assert stopping.wait(TIMEOUT)
        err = env.error(lambda: env.unary("/pkg.Echo/Unary"))
        assert err.code() == grpc.StatusCode.UNAVAILABLE  # and not a hang

    await asyncio.to_thread(run)


async def test_backend_stream_limit_opens_more_connections(h: Harness, solo: Make) -> None:
    env = await solo("lim", [("grpc.max_concurrent_streams", 2)])

    def run() -> None:
        slow = env.channel.unary_unary("/pkg.Echo/Slow")
        futs = [slow.future(b"0.3", timeout=TIMEOUT) for _ in range(8)]
        assert [f.result() for f in futs] == [b"lim"] * 8  # none refused with a 502

    await asyncio.to_thread(run)
    # the calls all succeeding holds too if they waited in line on one connection: the
    # backend must have seen them on more than one
    assert env.stable.calls == ["/pkg.Echo/Slow"] * 8
    assert len(set(env.stable.peers)) >= 4, env.stable.peers  # 8 at once, 2 per connection
    assert h.gw is not None and h.gw.state.h2pool is not None
    conns = h.gw.state.h2pool.conns[("127.0.0.1", env.stable.port)]
    assert len(conns) == 1  # the extra connections closed once idle


async def test_client_that_stops_reading_stalls_only_its_own_stream(solo: Make) -> None:
    env = await solo("big")

    def run() -> None:
        stream = env.channel.unary_stream("/pkg.Echo/Stream")
        it = stream(b"8000", timeout=TIMEOUT)  # 8 MiB: far more than any window
        assert next(it)[:6] == b"000000"
        time.sleep(0.5)  # every window between the backend and this client fills up
        other = env.new_channel()
        try:
            for ch in (other, env.channel):  # another client, and this one
                call = ch.unary_unary("/pkg.Echo/Unary")
                assert call(b"z" * 100_000, timeout=3) == b"z" * 100_000
        finally:
            other.close()
        rest = list(it)  # the stalled stream still completes
        assert [m[:6] for m in rest] == [b"%06d" % i for i in range(1, 8000)]

    await asyncio.to_thread(run)


async def test_upload_the_backend_does_not_read_is_held_back(h: Harness, solo: Make) -> None:
    env = await solo("hold")
    b = env.stable

    def start() -> Any:
        hold = env.channel.stream_unary("/pkg.Echo/Hold")
        fut = hold.future(iter([b"u" * 16384] * 400), timeout=TIMEOUT)  # 6.25 MiB
        wait_for(lambda: "/pkg.Echo/Hold" in b.calls, "the upload to start")
        time.sleep(0.5)  # the windows between this client and the backend fill up
        return fut

    fut = await asyncio.to_thread(start)
    # backpressure reached the client: the gateway holds about a window, not the upload
    assert h.gw is not None and h.gw.state.h2pool is not None
    conns = h.gw.state.h2pool.conns[("127.0.0.1", b.port)]
    assert sum(len(st.pending) for c in conns for st in c.streams.values()) < 256 * 1024

    def finish() -> None:
        call = env.channel.unary_unary("/pkg.Echo/Unary")
        assert call(b"y" * 100_000, timeout=3) == b"y" * 100_000  # same connection
        b.release.set()
        assert fut.result() == b"%d" % (16384 * 400)

    await asyncio.to_thread(finish)


async def test_cancelled_call_is_cancelled_at_the_backend(solo: Make) -> None:
    env = await solo("c")
    b = env.stable

    def run() -> None:
        fut = env.channel.unary_unary("/pkg.Echo/Slow").future(b"", timeout=TIMEOUT)
        wait_for(lambda: "/pkg.Echo/Slow" in b.calls, "the call to start")
        assert fut.cancel()
        t0 = time.monotonic()
        wait_for(lambda: b.cancelled == [True], "the backend to see the cancellation")
        assert time.monotonic() - t0 < 3  # the RST_STREAM, not the 10 s deadline

    await asyncio.to_thread(run)


async def test_backend_that_goes_away_is_unavailable_then_recovers(solo: Make) -> None:
    env = await solo("gone")
    port = env.stable.port
    assert (await asyncio.to_thread(env.unary, "/pkg.Echo/Unary", b"1"))[0] == b"1"
    await asyncio.to_thread(env.stable.stop)  # the pooled h2c connection to it breaks

    def down() -> None:
        for _ in range(3):
            t0 = time.monotonic()
            err = env.error(lambda: env.unary("/pkg.Echo/Unary", b"2"))
            assert err.code() == grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() - t0 < TIMEOUT / 2

    await asyncio.to_thread(down)
    back = Backend("back", port=port)  # a new backend on the same endpoint
    try:
        _, call = await asyncio.to_thread(env.unary, "/pkg.Echo/Unary", b"3")
        assert dict(call.initial_metadata())["x-backend"] == "back"
    finally:
        await asyncio.to_thread(back.stop)
