"""Run a :class:`LocalServer` in a background thread, for tests and scripts.

``with ServerThread() as srv:`` starts an in-memory server on a random loopback port in
its own event loop and thread, writes a kubeconfig, and stops everything on exit, so
synchronous code (kubectl subprocesses, the kubernetes client) and asyncio code (kopf)
can both talk to it.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from rollouts.local.server import LocalServer

__all__ = ["ServerThread"]

T = TypeVar("T")


class ServerThread:
    """An embedded API server running in a daemon thread."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        kubeconfig: str | Path | None = None,
        **server_args: Any,
    ) -> None:
        self._data_dir = data_dir
        self._server_args = server_args
        self._kubeconfig = Path(kubeconfig) if kubeconfig else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="rollouts-local-api"
        )
        self.server: LocalServer | None = None
        self.kubeconfig: Path = Path()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run a coroutine function in the server's loop and wait for its result."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(_wrap(fn), self._loop)
        return fut.result(timeout)

    def start(self) -> ServerThread:
        self._thread.start()

        async def boot() -> LocalServer:
            srv = LocalServer(data_dir=self._data_dir, **self._server_args)
            await srv.start()
            return srv

        self.server = self.call(boot)
        if self._kubeconfig is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="rollouts-local-")
            self._kubeconfig = Path(self._tmp.name) / "kubeconfig"
        self.kubeconfig = self.server.write_kubeconfig(self._kubeconfig)
        return self

    def stop(self) -> None:
        if self.server is not None:
            server = self.server
            self.server = None
            try:
                self.call(server.stop)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
                self._loop.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _wrap(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
