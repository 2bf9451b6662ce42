"""Readiness probes of local pods: ``httpGet``, ``tcpSocket`` and ``exec``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

__all__ = ["run_probe"]


def _port(value: Any, container: dict[str, Any]) -> int:
    if isinstance(value, int):
        return value
    for p in container.get("ports") or []:
        if p.get("name") == value:
            return int(p["containerPort"])
    return int(value)


async def run_probe(
    probe: dict[str, Any], container: dict[str, Any], ip: str, env: dict[str, str]
) -> bool:
    """One probe attempt; True on success."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "httpGet" in probe:
            spec = probe["httpGet"]
            host = spec.get("host") or ip
            scheme = str(spec.get("scheme", "HTTP")).lower()
            url = f"{scheme}://{host}:{_port(spec.get('port'), container)}{spec.get('path', '/')}"
            headers = {h["name"]: h["value"] for h in spec.get("httpHeaders") or []}
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.get(url, headers=headers, ssl=False) as resp,
            ):
                return 200 <= resp.status < 400
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            host = spec.get("host") or ip
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, _port(spec.get("port"), container)), timeout
            )
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        if "exec" in probe:
            cmd = [str(c) for c in probe["exec"].get("command") or []]
            proc = await asyncio.create_subprocess_exec(
                *cmd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
            try:
                return await asyncio.wait_for(proc.wait(), timeout) == 0
            except TimeoutError:
                proc.kill()
                await proc.wait()
                return False
    except (OSError, TimeoutError, aiohttp.ClientError, ValueError):
        return False
    return True
