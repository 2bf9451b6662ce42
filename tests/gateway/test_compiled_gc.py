"""The garbage collector sees each reference of a hot-path object exactly once.

mypyc lays out an attribute again when a subclass assigns it with an annotation although
a base class already declares it, and its GC traverse then visits that reference twice.
The collector subtracts each visit from the referent's count, so a live object (a
routing table, a transport) can look unreachable and be cleared while in use: the
compiled gateway crashed in ``_start`` on a table whose ``ports`` had been cleared.
``gc.get_referents`` runs the same traverse, so an object it reports more often than
the instance's attributes hold it is the bug. (On a pure-Python build the instances
keep their attributes in a ``__dict__`` and the check holds trivially.)
"""

from __future__ import annotations

import contextlib
import gc
import inspect
from collections import Counter
from typing import Any

import pytest

from rollouts.gateway.compile import compile_snapshot
from rollouts.gateway.http1 import Limits, quick_request
from rollouts.gateway.proxy import ClientConn
from rollouts.gateway.server import GatewayServer
from rollouts.gateway.snapshot import build_snapshot
from rollouts.gateway.upstream import UpstreamConn

from .conftest import (
    MemoryTransport,
    backend,
    gateway,
    gateway_class,
    listener,
    route,
    service,
)

PORT, UPSTREAM = 18080, 18081


def attribute_values(obj: Any) -> list[Any]:
    """What every attribute of ``obj`` holds, inherited ones included."""
    names = {name for klass in type(obj).__mro__ for name, attr in vars(klass).items()
             if inspect.isgetsetdescriptor(attr) or inspect.ismemberdescriptor(attr)}  # fmt: skip
    values = []
    for name in sorted(names):
        with contextlib.suppress(AttributeError):  # not set
            values.append(getattr(obj, name))
    return values


def over_visited(obj: Any) -> list[str]:
    held = Counter(id(v) for v in attribute_values(obj))
    for v in attribute_values(obj):
        if type(v) is tuple:  # mypyc keeps a fixed tuple unboxed: its items are visited
            held.update(id(item) for item in v)
    seen = Counter(id(r) for r in gc.get_referents(obj))
    by_id = {id(r): r for r in gc.get_referents(obj)}
    return [f"{type(by_id[i]).__name__} visited {n} times, held {held[i]}"
            for i, n in seen.items() if n > held[i] and by_id[i] is not type(obj)]  # fmt: skip


async def test_connections_mid_exchange_report_each_reference_once() -> None:
    objs = [gateway_class(), gateway("gw", [listener("http", PORT)]), *service("be", [UPSTREAM])]
    objs.append(route("r", [{"backendRefs": [backend("be")]}]))
    gw = GatewayServer(host="127.0.0.1")
    gw.state.table, _ = compile_snapshot(build_snapshot(objs), gw.registry, 1)
    client = ClientConn(gw.state, PORT, b"http")
    client.connection_made(MemoryTransport())  # type: ignore[arg-type]
    up = UpstreamConn(gw.pool, ("127.0.0.1", UPSTREAM))
    up.connection_made(MemoryTransport())  # type: ignore[arg-type]
    gw.pool.put(up)
    client.data_received(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")  # now waiting for the answer
    assert client.active is not None and client.up is up and client.listener is not None
    request = quick_request(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", Limits())
    for obj in (client, up, request, gw.state, gw.pool.idle[("127.0.0.1", UPSTREAM)]):
        assert over_visited(obj) == [], type(obj).__name__


def test_the_check_catches_a_doubly_visited_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    class Slotted:
        __slots__ = ("a",)

        def __init__(self) -> None:
            self.a: list[int] = []

    obj = Slotted()
    assert over_visited(obj) == []
    # what a traverse that visits ``a`` twice reports
    monkeypatch.setattr(gc, "get_referents", lambda o: [o.a, o.a, type(o)])
    assert over_visited(obj) == ["list visited 2 times, held 1"]
