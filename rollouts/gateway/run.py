"""Process entry point: event loop, config source, workers, signals.

Why this exists: the CLI stays a thin argument parser, and tests or the benchmark
can start a gateway in-process (``serve``) or as worker processes (``run``) the same
way. Several workers share each listening port through SO_REUSEPORT; the kernel
spreads connections among them. ``fork_workers`` is the process part alone, which the
cluster mode (``rollouts.kube.gateway_watch``, started by the CLI) uses too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable

from rollouts.gateway.filesource import ConfigError, DirectorySource
from rollouts.gateway.http1 import Limits
from rollouts.gateway.server import GatewayServer

__all__ = ["fork_workers", "run", "serve", "tune_worker_process"]

log = logging.getLogger("rollouts.gateway")


async def serve(
    config: str, host: str = "0.0.0.0", admin_port: int | None = 9901,
    reuse_port: bool = False, limits: Limits | None = None,
    stop: asyncio.Event | None = None, poll_interval: float = 0.05,
    admin_host: str = "127.0.0.1", stats_dir: str | None = None, worker: int = 0,
) -> None:  # fmt: skip
    """Serve the manifests under ``config`` until ``stop`` is set (or forever)."""
    gw = GatewayServer(host=host, admin_port=admin_port, limits=limits, reuse_port=reuse_port,
                       admin_host=admin_host, stats_dir=stats_dir)  # fmt: skip
    source = DirectorySource(config, interval=poll_interval)
    snap = source.load()
    await gw.start()
    table = await gw.apply(snap)
    log.info("gateway serving generation %d on ports %s", table.generation,
             sorted(table.ports))  # fmt: skip

    def failed(_: Exception) -> None:
        gw.registry.config_errors += 1

    async def applied(s: object) -> None:
        from rollouts.gateway.snapshot import Snapshot

        assert isinstance(s, Snapshot)
        t = await gw.apply(s)
        log.info("config reloaded: generation %d", t.generation)

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(source.run(applied, failed))]
    if stats_dir is not None and worker > 0:
        tasks.append(loop.create_task(gw.dump_forever(worker)))
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        for t in tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await gw.close()


def tune_worker_process() -> None:
    """What every serving process does before its event loop starts: uvloop, and a
    garbage collector tuned for the hot path."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    # the hot path allocates many short-lived, acyclic objects: collect young
    # generations less often, and keep the long-lived startup objects out of it
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _worker(config: str, host: str, admin_port: int | None, reuse_port: bool,
            limits: Limits, admin_host: str, stats_dir: str | None, index: int
            ) -> None:  # fmt: skip
    tune_worker_process()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, host, admin_port, reuse_port, limits, stop,
                    admin_host=admin_host, stats_dir=stats_dir, worker=index)  # fmt: skip

    asyncio.run(main())


def run(config: str, host: str = "0.0.0.0", admin_port: int | None = 9901,
        workers: int = 1, limits: Limits | None = None,
        admin_host: str = "127.0.0.1") -> int:  # fmt: skip
    """Run ``workers`` processes; worker 0 also serves the admin port, merging the
    counters the other workers publish every 0.5 s. Returns the exit code."""
    limits = limits or Limits()
    try:
        DirectorySource(config).load()  # fail fast, with the file name, before forking
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if workers <= 1:
        _worker(config, host, admin_port, False, limits, admin_host, None, 0)
        return 0

    def child(index: int, stats_dir: str) -> None:
        _worker(config, host, admin_port if index == 0 else None, True, limits, admin_host,
                stats_dir, index)  # fmt: skip

    return fork_workers(workers, child)


def fork_workers(workers: int, child: Callable[[int, str], None]) -> int:
    """Fork ``workers`` processes running ``child(index, stats_dir)``; wait for them.

    They share a fresh stats directory (counters and served route generations, for
    worker 0). SIGTERM / SIGINT to this process are forwarded to every worker. A worker
    that exits while nobody asked them to stop (a crash) stops the others, and the exit
    code is then non-zero. Returns the exit code.
    """
    stats_dir = tempfile.mkdtemp(prefix="rollouts-gateway-")
    children: list[int] = []
    stopping = False
    parent = os.getpid()

    def forward(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    # a signal arriving while we fork is held until every worker exists, then forwarded
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        for i in range(workers):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                code = 0
                try:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                    _die_with(parent)
                    child(i, stats_dir)
                except KeyboardInterrupt:
                    code = 1
                except BaseException:
                    log.exception("worker %d failed", i)
                    code = 1
                os._exit(code)
            children.append(pid)
    except BaseException:
        forward(signal.SIGTERM, None)  # could not fork them all: stop those that run
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        shutil.rmtree(stats_dir, ignore_errors=True)
        raise
    previous = {sig: signal.signal(sig, forward) for sig in stop_signals}
    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    try:
        return _reap(children, lambda: stopping, forward)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(stats_dir, ignore_errors=True)


def _die_with(parent: int) -> None:
    """Linux: this worker gets SIGTERM when the parent dies, even by SIGKILL, instead of
    serving on as an orphan nobody supervises."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before that took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _reap(children: list[int], stopping: Callable[[], bool],
          stop: Callable[[int, object], None]) -> int:
    code = 0
    running = set(children)
    while running:
        pid, status = os.wait()
        if pid not in running:
            continue
        running.discard(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if stopping() and exit_code in (-signal.SIGTERM, -signal.SIGINT):
            exit_code = 0  # stopped by the signal we forwarded before it set up its loop
        elif not stopping():  # nobody asked: a worker crashed; stop the others
            log.error("worker pid %d exited with %d: stopping the others", pid, exit_code)
            code = exit_code or 1
            stop(signal.SIGTERM, None)
        code = code or exit_code
    return code
