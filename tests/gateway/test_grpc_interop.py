"""gRPC through the gateway with a real gRPC implementation (grpcio) on both sides.

Why this exists: ``test_h2`` drives GRPCRoute with hand-made h2 frames, which only shows
that the gateway agrees with itself. Here real grpcio clients call real grpcio servers
through the gateway (h2c with prior knowledge in front, h2c to the backends), so framing,
flow control, trailers, status mapping, metadata, method matching and weights are
checked against what gRPC actually sends and expects. The generic grpcio API with
identity (bytes) serializers is used, so no protoc or generated code is needed.

The gateway runs in the test's event loop; grpcio calls block, so they run in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import (
    Harness,
    backend,
    free_port,
    gateway,
    gateway_class,
    listener,
    route,
    service,
)

# skipped without grpcio, except in CI (CI=true), which must have it: there the import
# error fails the run instead
grpc = importlib.import_module("grpc") if os.environ.get("CI") else pytest.importorskip("grpc")

TIMEOUT = 10.0  # every call has a deadline: a hang fails as DEADLINE_EXCEEDED
SERVICES = ("pkg.Echo", "pkg.v2.Echo", "pkg.v17.Echo")
ERROR_DETAILS = "no such thing: héllo ☃ 100%"  # non-ASCII and '%': grpc-message encoding


class Backend:
    """A grpcio server for ``SERVICES`` that names itself and records what it served."""

    def __init__(self, name: str, options: list[tuple[str, Any]] | None = None, port: int = 0
                 ) -> None:  # fmt: skip
        self.name = name
        self.calls: list[str] = []  # method paths, in order (list.append is thread-safe)
        self.release = threading.Event()  # lets Slow and Hold calls go on
        self.cancelled: list[bool] = []  # per finished Slow call: did the caller cancel it
        self.peers: list[str] = []  # per call recorded by _hello: the connection it came on
        self.server = grpc.server(ThreadPoolExecutor(max_workers=32), options=options)
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(s, self._handlers(s)) for s in SERVICES]
        )
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        assert self.port and (self.port == port or not port)
        self.server.start()

    def _handlers(self, svc: str) -> dict[str, Any]:
        def unary(method: str) -> Callable[[bytes, Any], bytes]:
            def handle(req: bytes, ctx: Any) -> bytes:
                self._hello(f"/{svc}/{method}", ctx)
                ctx.set_trailing_metadata([("x-trailer", self.name)])
                return req

            return handle

        def fail(req: bytes, ctx: Any) -> bytes:
            """No initial metadata: gRPC answers "Trailers-Only" (one HEADERS frame)."""
            self.calls.append(f"/{svc}/Fail")
            ctx.set_trailing_metadata([("x-reason", "missing"), ("x-backend", self.name)])
            ctx.abort(grpc.StatusCode.NOT_FOUND, ERROR_DETAILS)
            raise AssertionError  # abort raises

        def stream(req: bytes, ctx: Any) -> Iterator[bytes]:
            """``b"N"``: N numbered 1 KiB messages; ``b"N!"``: then fail."""
            self._hello(f"/{svc}/Stream", ctx)
            for i in range(int(req.rstrip(b"!"))):
                yield b"%06d" % i + b"s" * 1018
            if req.endswith(b"!"):
                ctx.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "stopped after the messages")

        def collect(reqs: Iterator[bytes], ctx: Any) -> bytes:
            self._hello(f"/{svc}/Collect", ctx)
            msgs = list(reqs)
            return b"%d:%d" % (len(msgs), sum(map(len, msgs)))

        def chat(reqs: Iterator[bytes], ctx: Any) -> Iterator[bytes]:
            self._hello(f"/{svc}/Chat", ctx)
            for r in reqs:
                yield self.name.encode() + b":" + r

        def slow(req: bytes, ctx: Any) -> bytes:
            """Waits ``req`` seconds, until released, or until the caller goes away."""
            self._hello(f"/{svc}/Slow", ctx)
            end = time.monotonic() + float(req or b"30")
            while ctx.is_active() and not self.release.is_set() and time.monotonic() < end:
                time.sleep(0.005)
            self.cancelled.append(not ctx.is_active())
            return self.name.encode()

        def hold(reqs: Iterator[bytes], ctx: Any) -> bytes:
            """Reads nothing until released: the request stream backs up."""
            self._hello(f"/{svc}/Hold", ctx)
            self.release.wait(TIMEOUT)
            return b"%d" % sum(map(len, reqs))

        return {
            "Slow": grpc.unary_unary_rpc_method_handler(slow),
            "Hold": grpc.stream_unary_rpc_method_handler(hold),
            "Unary": grpc.unary_unary_rpc_method_handler(unary("Unary")),
            "Weighted": grpc.unary_unary_rpc_method_handler(unary("Weighted")),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
            "Collect": grpc.stream_unary_rpc_method_handler(collect),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
        }

    def _hello(self, path: str, ctx: Any) -> None:
        """Record the call; answer who we are and echo the ``x-`` request metadata."""
        self.calls.append(path)
        self.peers.append(ctx.peer())
        echo = [(f"echo-{k}", v) for k, v in ctx.invocation_metadata() if k.startswith("x-")]
        ctx.send_initial_metadata([("x-backend", self.name), *echo])

    def stop(self) -> None:
        self.server.stop(0).wait(5)


class Env:
    """The gateway with a GRPCRoute over two grpcio backends, and a grpcio client channel."""

    def __init__(self, h: Harness, stable: Backend, canary: Backend) -> None:
        self.h, self.stable, self.canary = h, stable, canary
        self.channel = self.new_channel()

    def new_channel(self) -> Any:
        """A client connection of its own to the gateway (never through a proxy)."""
        return grpc.insecure_channel(f"127.0.0.1:{self.h.port}",
                                     options=[("grpc.enable_http_proxy", 0)])  # fmt: skip

    def unary(self, path: str, body: bytes = b"", metadata: Any = ()) -> tuple[bytes, Any]:
        call = self.channel.unary_unary(path, request_serializer=None,
                                        response_deserializer=None)  # fmt: skip
        resp, info = call.with_call(body, metadata=metadata, timeout=TIMEOUT)
        return resp, info

    def backend_of(self, path: str, metadata: Any = ()) -> str:
        return str(dict(self.unary(path, metadata=metadata)[1].initial_metadata())["x-backend"])

    def error(self, fn: Callable[[], object]) -> Any:
        with pytest.raises(grpc.RpcError) as exc:
            fn()
        return exc.value


def method(svc: str | None = None, name: str | None = None, kind: str = "Exact",
           headers: list[dict[str, str]] | None = None) -> dict[str, Any]:  # fmt: skip
    m: dict[str, Any] = {"type": kind}
    if svc:
        m["service"] = svc
    if name:
        m["method"] = name
    return {"method": m, "headers": headers or []}


RULES = [
    {"matches": [method("pkg.Echo", "Unary", headers=[{"name": "x-canary", "value": "yes"}])],
     "backendRefs": [backend("canary")]},
    {"matches": [method("pkg.Echo")], "backendRefs": [backend("stable")]},
    {"matches": [method("pkg.Echo", "Weighted")],
     "backendRefs": [backend("stable", 3), backend("canary", 1)]},
    {"matches": [method(r"pkg\.v[0-9]+\.Echo", "Un.*", kind="RegularExpression")],
     "backendRefs": [backend("canary")]},
    {"matches": [method("pkg.Down")], "backendRefs": [backend("down")]},
]  # fmt: skip


@pytest.fixture
async def env(h: Harness) -> AsyncIterator[Env]:
    stable, canary = Backend("stable"), Backend("canary")
    objs = [gateway_class(), gateway("gw", [listener("grpc", h.port)]),
            *service("stable", [stable.port]), *service("canary", [canary.port]),
            *service("down", [free_port()]),  # nothing listens there
            route("echo", RULES, kind="GRPCRoute")]  # fmt: skip
    await h.start(objs)
    e = Env(h, stable, canary)
    try:
        yield e
    finally:
        e.channel.close()
        await asyncio.gather(asyncio.to_thread(stable.stop), asyncio.to_thread(canary.stop))


async def test_unary_small_large_and_concurrent(env: Env) -> None:
    def run() -> None:
        resp, call = env.unary("/pkg.Echo/Unary", b"hello")
        assert resp == b"hello"
        assert call.code() == grpc.StatusCode.OK
        assert dict(call.initial_metadata())["x-backend"] == "stable"
        assert dict(call.trailing_metadata())["x-trailer"] == "stable"  # trailers relayed
        assert env.unary("/pkg.Echo/Unary", b"")[0] == b""
        big = bytes(range(256)) * (3 * 1024 * 1024 // 256 + 7)  # > every 64 KiB window
        assert env.unary("/pkg.Echo/Unary", big)[0] == big
        # many streams at once over one client connection and one upstream connection
        call_ = env.channel.unary_unary("/pkg.Echo/Unary")
        futs = [call_.future(b"%d" % i * (i * 500), timeout=TIMEOUT) for i in range(64)]
        assert [f.result() for f in futs] == [b"%d" % i * (i * 500) for i in range(64)]

    await asyncio.to_thread(run)
    assert env.stable.calls == ["/pkg.Echo/Unary"] * 67 and env.canary.calls == []


async def test_streaming_both_ways(env: Env) -> None:
    def run() -> None:
        stream = env.channel.unary_stream("/pkg.Echo/Stream")
        msgs = list(stream(b"3000", timeout=TIMEOUT))  # ~3 MiB in 3000 messages
        assert [m[:6] for m in msgs] == [b"%06d" % i for i in range(3000)]
        assert all(len(m) == 1024 for m in msgs)
        collect = env.channel.stream_unary("/pkg.Echo/Collect")
        chunks = (b"c" * (i % 2000) for i in range(1500))
        assert collect(chunks, timeout=TIMEOUT) == b"1500:%d" % sum(i % 2000 for i in range(1500))
        # ping-pong: the next message is sent only after the previous answer arrived, so
        # this deadlocks (DEADLINE_EXCEEDED) unless both directions stream unbuffered
        chat = env.channel.stream_stream("/pkg.Echo/Chat")
        outbox: queue.Queue[bytes | None] = queue.Queue()
        outbox.put(b"0")

        def requests() -> Iterator[bytes]:
            while (m := outbox.get(timeout=TIMEOUT)) is not None:
                yield m

        answers = []
        for answer in chat(requests(), timeout=TIMEOUT):
            answers.append(answer)
            n = len(answers)
            outbox.put(b"%d" % n if n < 20 else None)
        assert answers == [b"stable:%d" % i for i in range(20)]

    await asyncio.to_thread(run)


async def test_error_status_details_and_trailers_pass_through(env: Env) -> None:
    def run() -> None:
        err = env.error(lambda: env.unary("/pkg.Echo/Fail", b"x"))  # trailers-only answer
        assert err.code() == grpc.StatusCode.NOT_FOUND
        assert err.details() == ERROR_DETAILS
        assert dict(err.trailing_metadata()) == {"x-reason": "missing", "x-backend": "stable"}
        stream = env.channel.unary_stream("/pkg.Echo/Stream")
        got: list[bytes] = []
        err = env.error(lambda: got.extend(stream(b"5!", timeout=TIMEOUT)))
        assert len(got) == 5  # the messages, then the status in the trailers
        assert got == [b"%06d" % i + b"s" * 1018 for i in range(5)]  # whole and in order
        assert dict(err.initial_metadata())["x-backend"] == "stable"
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert err.details() == "stopped after the messages"

    await asyncio.to_thread(run)


async def test_method_matching_and_unmatched_is_unimplemented(env: Env) -> None:
    def run() -> None:
        assert env.backend_of("/pkg.Echo/Unary") == "stable"  # service-only Exact
        assert env.backend_of("/pkg.v2.Echo/Unary") == "canary"  # RegularExpression
        assert env.backend_of("/pkg.v17.Echo/Unary") == "canary"
        # routed, but the backend lacks the method: its Trailers-Only UNIMPLEMENTED passes
        err = env.error(lambda: env.unary("/pkg.Echo/Missing"))
        assert (err.code(), err.details()) == (grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        # no rule matches: the gateway answers HTTP 404, which gRPC maps to UNIMPLEMENTED
        for path in ("/pkg.Nothing/Call", "/pkg.v2.Echo/Weighted", "/pkg.vX.Echo/Unary"):
            err = env.error(functools.partial(env.unary, path))
            assert err.code() == grpc.StatusCode.UNIMPLEMENTED, path
            assert err.details() != "Method not found!", path  # not a backend's answer
            # grpcio's own words for an HTTP 404 (the != above holds for any other text)
            assert err.details() == "Received http2 header with status: 404", path

    await asyncio.to_thread(run)
    # the unmatched calls never reached a backend (which would also say UNIMPLEMENTED)
    assert env.stable.calls == ["/pkg.Echo/Unary"]
    assert env.canary.calls == ["/pkg.v2.Echo/Unary", "/pkg.v17.Echo/Unary"]


async def test_metadata_reaches_backend_and_header_matches_route(env: Env) -> None:
    def run() -> None:
        md = [("x-user", "alice"), ("x-blob-bin", b"\x00\xff\r\n\x01"), ("x-canary", "no")]
        _, call = env.unary("/pkg.Echo/Unary", b"m", md)
        seen = dict(call.initial_metadata())
        assert seen["x-backend"] == "stable"  # x-canary: no does not match the header rule
        assert seen["echo-x-user"] == "alice"
        assert seen["echo-x-blob-bin"] == b"\x00\xff\r\n\x01"
        assert seen["echo-x-canary"] == "no"
        assert env.backend_of("/pkg.Echo/Unary", [("x-canary", "yes")]) == "canary"
        # the header rule names the Unary method only: other methods stay on stable
        stream = env.channel.unary_stream("/pkg.Echo/Stream")
        it = stream(b"1", metadata=[("x-canary", "yes")], timeout=TIMEOUT)
        assert len(list(it)) == 1
        assert dict(it.initial_metadata())["x-backend"] == "stable"

    await asyncio.to_thread(run)


async def test_weights_split_exactly(env: Env) -> None:
    def run() -> Counter[str]:
        return Counter(env.backend_of("/pkg.Echo/Weighted") for _ in range(400))

    assert await asyncio.to_thread(run) == {"stable": 300, "canary": 100}
    assert len(env.stable.calls) == 300 and len(env.canary.calls) == 100


async def test_backend_down_is_unavailable_not_a_hang(env: Env) -> None:
    def run() -> None:
        t0 = time.monotonic()
        err = env.error(lambda: env.unary("/pkg.Down/Unary", b"x"))
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - t0 < TIMEOUT / 2

    await asyncio.to_thread(run)


async def test_invalid_backend_ref_is_unavailable(h: Harness) -> None:
    """Gateway API, GRPCRouteRule.backendRefs: requests routed to an invalid backendRef
    MUST receive an UNAVAILABLE status."""
    rules = [{"backendRefs": [backend("missing")]}]
    await h.start([gateway_class(), gateway("gw", [listener("grpc", h.port)]),
                   route("r", rules, kind="GRPCRoute")])  # fmt: skip
    env = Env(h, None, None)  # type: ignore[arg-type]  # no backends here
    try:
        err = await asyncio.to_thread(env.error, lambda: env.unary("/pkg.Echo/Unary"))
        assert err.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        env.channel.close()
