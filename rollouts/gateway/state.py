"""What all client connections of one worker share.

Why this exists: the routing table reference (swapped whole on reload), the counters,
the upstream pools and the limits are one object handed to every connection, so a
reload is a single attribute assignment and nothing else is global.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from rollouts.gateway.http1 import Limits
from rollouts.gateway.metrics import Registry
from rollouts.gateway.table import RoutingTable
from rollouts.gateway.upstream import Pool

if TYPE_CHECKING:
    from rollouts.gateway.mirror import Mirrorer
    from rollouts.gateway.proxy import ClientConn

try:  # HTTP/2 to backends (gRPC, h2c) needs the pure-Python h2 library
    from rollouts.gateway.h2upstream import H2Pool
except ImportError:  # pragma: no cover - h2 not installed
    H2Pool = None  # type: ignore[assignment,misc]

__all__ = ["ProxyState"]


class ProxyState:
    """What every connection of a worker shares; ``table`` is swapped whole on reload."""

    def __init__(self, table: RoutingTable, registry: Registry, pool: Pool,
                 limits: Limits, mirrorer: Mirrorer | None = None) -> None:  # fmt: skip
        self.table = table
        self.registry = registry
        self.pool = pool
        self.limits = limits
        self.mirrorer = mirrorer
        self.conns: set[ClientConn] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.h2pool = H2Pool(pool.loop) if H2Pool is not None else None
        self.wall_offset = time.time() - pool.loop.time()
