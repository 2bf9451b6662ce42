"""The directory source with reload, the admin endpoints, the CLI and the examples."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from rollouts.gateway.compile import compile_snapshot
from rollouts.gateway.filesource import load_directory
from rollouts.gateway.run import serve

from .conftest import Harness, backend, basic, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gateway"


def write(path: Path, objs: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump_all(objs))
    os.replace(tmp, path)


async def get(url: str, host: str = "example.com") -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url, headers={"Host": host}) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_directory_source_reloads_and_survives_bad_files(h: Harness, tmp_path: Path
                                                               ) -> None:  # fmt: skip
    await h.echo("stable", "canary")
    cfg = tmp_path / "all.yaml"

    def objs(canary: int) -> list[dict[str, Any]]:
        return basic(h, [{"backendRefs": [backend("stable", 100 - canary),
                                          backend("canary", canary)]}])  # fmt: skip

    write(cfg, objs(0))
    admin = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(str(tmp_path), "127.0.0.1", admin, stop=stop,
                                     poll_interval=0.02))  # fmt: skip
    try:
        for _ in range(100):
            try:
                if (await get(f"http://127.0.0.1:{admin}/readyz"))[0] == 200:
                    break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{h.port}/"
        assert {(await get(url))[2]["x-backend"] for _ in range(5)} == {"stable"}
        write(cfg, objs(50))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if "rollouts_gateway_config_generation 2" in (await get(
                    f"http://127.0.0.1:{admin}/metrics"))[1]:  # fmt: skip
                break
        got = Counter([(await get(url))[2]["x-backend"] for _ in range(10)])
        assert got == {"stable": 5, "canary": 5}
        # a broken file keeps the previous config serving
        (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")
        await asyncio.sleep(0.2)
        assert (await get(url))[0] == 200
        metrics = (await get(f"http://127.0.0.1:{admin}/metrics"))[1]
        assert "rollouts_gateway_config_errors_total 1" in metrics
        assert 'rollouts_gateway_requests_total{route="default/r",rule="0",' \
               'backend="default/canary",code="2xx"} 5' in metrics  # fmt: skip
        assert "rollouts_gateway_request_duration_seconds_bucket{" in metrics
        assert "rollouts_gateway_active_connections" in metrics
        _status, body, _ = await get(f"http://127.0.0.1:{admin}/stats?window=60")
        stats = yaml.safe_load(body)
        assert stats["backends"]["default/canary"]["requests"] == 5
        assert stats["backends"]["default/canary"]["successRate"] == 1.0
        assert stats["backends"]["default/canary"]["latencySeconds"]["p99"] > 0
        config = yaml.safe_load((await get(f"http://127.0.0.1:{admin}/config"))[1])
        assert config["generation"] == 2
        st = yaml.safe_load((await get(f"http://127.0.0.1:{admin}/status"))[1])
        parent = st["routes"]["HTTPRoute default/r"]["parents"][0]
        assert {c["type"]: c["status"] for c in parent["conditions"]} == {
            "Accepted": "True",
            "ResolvedRefs": "True",
        }
        assert (await get(f"http://127.0.0.1:{admin}/healthz"))[0] == 200
    finally:
        stop.set()
        await task


def test_examples_compile_cleanly() -> None:
    snap = load_directory(EXAMPLES)
    assert snap.errors == ()
    table, res = compile_snapshot(snap)
    assert list(table.ports) == [8080]
    (info,) = res.routes
    assert info.rule_errors == {}
    assert all(p.accepted.status for p in info.parents)
    assert info.resolved_refs.status


async def test_cli_serves_a_config_directory(tmp_path: Path) -> None:
    backend_port, port, admin = free_port(), free_port(), free_port()
    from rollouts.gateway.echo import start_echo

    srv = await start_echo("cli", backend_port)
    objs = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "c"}, "spec": {"controllerName": "rollouts.dev/gateway-controller"}},
        {"kind": "Gateway", "metadata": {"name": "gw"},
         "spec": {"gatewayClassName": "c",
                  "listeners": [{"name": "h", "port": port, "protocol": "HTTP"}]}},
        {"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}},
        {"kind": "EndpointSlice", "metadata": {"name": "s1",
                                               "labels": {"kubernetes.io/service-name": "s"}},
         "ports": [{"port": backend_port}], "endpoints": [{"addresses": ["127.0.0.1"]}]},
        {"kind": "HTTPRoute", "metadata": {"name": "r"},
         "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [backend("s")]}]}},
    ]  # fmt: skip
    write(tmp_path / "cfg.yaml", objs)
    code = "from rollouts.cli.gateway import gateway; gateway()"
    proc = subprocess.Popen([sys.executable, "-c", code, "--config", str(tmp_path),
                             "--host", "127.0.0.1", "--admin-port", str(admin),
                             "--workers", "2"])  # fmt: skip
    try:
        result = None
        for _ in range(200):
            await asyncio.sleep(0.05)
            try:
                result = await get(f"http://127.0.0.1:{port}/x")
                break
            except aiohttp.ClientError:
                continue
        assert result is not None
        assert result[0] == 200 and result[2]["x-backend"] == "cli"
        for _ in range(19):  # one connection each, so the kernel spreads them over workers
            assert (await get(f"http://127.0.0.1:{port}/x"))[0] == 200
        total = 0
        for _ in range(40):  # other workers publish their counters every 0.5 s
            await asyncio.sleep(0.1)
            metrics = (await get(f"http://127.0.0.1:{admin}/metrics"))[1]
            total = sum(int(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                        if line.startswith("rollouts_gateway_requests_total{"))  # fmt: skip
            if total == 20:
                break
        assert total == 20
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 10) == 0
        srv.close()
