"""Builtin provider: success rate and latency quantiles from our own gateway's stats.

Why this exists: local mode and small clusters need no Prometheus. The gateway serves
per-backend stats over a sliding window (the contract is in GATEWAY-METRICS.md):

    GET {address}/stats?window=SECONDS
    {"windowSeconds": 60,
     "backends": {"NAMESPACE/SERVICE": {"requests": 120, "errors": 3,
                                        "successRate": 0.975,
                                        "latencySeconds": {"p50": 0.01, "p90": 0.05,
                                                           "p99": 0.2}}}}

``stat`` picks one number as ``result``: success-rate (share of non-5xx answers),
latency-p50/p90/p99 (seconds) or requests. No traffic in the window is an Error
measurement ("no requests ..."), never a pass.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from rollouts.analysis.providers.base import MeasurementError, Observation
from rollouts.api.analysis import GatewayMetric
from rollouts.api.base import duration_seconds

__all__ = ["STATS_PATH", "GatewayProvider", "pick_stat"]

STATS_PATH = "/stats"
_TIMEOUT = 10.0


def _same_service(key: str, service: str, namespace: str | None) -> bool:
    """Whether a stats key (``NS/NAME`` or ``NS/NAME:PORT``) is that Service."""
    name = key.split(":", 1)[0]
    if namespace:
        return name == f"{namespace}/{service}"
    return name == service or name.endswith(f"/{service}")


def _backend(stats: dict[str, Any], service: str, namespace: str | None) -> tuple[str, Any]:
    backends = stats.get("backends")
    if not isinstance(backends, dict):
        raise MeasurementError("gateway stats have no 'backends' map")
    wanted = f"{namespace}/{service}" if namespace else service
    keys = sorted(k for k in backends if _same_service(k, service, namespace))
    if not keys:
        raise MeasurementError(f"no requests to backend {wanted} in the window (the gateway "
                               f"has seen: {', '.join(sorted(backends)) or 'none'})")
    if len(keys) > 1:
        raise MeasurementError(f"backend {wanted} is ambiguous ({', '.join(keys)}): set "
                               "namespace, or give the Service a single port")
    return keys[0], backends[keys[0]]


def pick_stat(stats: dict[str, Any], metric: GatewayMetric) -> float | int:
    """The number ``metric.stat`` names for ``metric.service`` in a stats document."""
    key, entry = _backend(stats, metric.service, metric.namespace)
    if not isinstance(entry, dict):
        raise MeasurementError(f"gateway stats for {key} are malformed")
    window = stats.get("windowSeconds", "?")
    requests = entry.get("requests")
    if metric.stat == "requests":
        if not isinstance(requests, int):
            raise MeasurementError(f"gateway stats for {key} have no request count")
        return requests
    if not requests:
        raise MeasurementError(f"no requests to backend {key} in the last {window}s: "
                               "nothing to measure yet")
    if metric.stat == "success-rate":
        value = entry.get("successRate")
    else:
        latency = entry.get("latencySeconds") or {}
        value = latency.get(metric.stat.removeprefix("latency-")) if isinstance(
            latency, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise MeasurementError(f"gateway stats for {key} have no {metric.stat}")
    return value


class GatewayProvider:
    kind = "gateway"

    def __init__(self, spec: GatewayMetric) -> None:
        self.spec = spec

    @property
    def timeout_seconds(self) -> float:
        return _TIMEOUT

    async def close(self) -> None:
        return None

    async def measure(self) -> Observation:
        address = self.spec.address.rstrip("/")
        if "://" not in address:
            address = "http://" + address
        window = int(duration_seconds(self.spec.window))
        url = f"{address}{STATS_PATH}"
        timeout = aiohttp.ClientTimeout(total=_TIMEOUT)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
                url, params={"window": str(window)}
            ) as response:
                if response.status != 200:
                    text = await response.text(errors="replace")
                    raise MeasurementError(f"gateway stats at {url} answered HTTP "
                                           f"{response.status}: {text[:200]}")
                stats = await response.json(content_type=None)
        except TimeoutError:
            raise MeasurementError(f"gateway stats at {url} did not answer within "
                                   f"{_TIMEOUT:g}s") from None
        except aiohttp.ClientError as error:
            raise MeasurementError(f"gateway stats at {url} failed: {error}") from None
        except ValueError:
            raise MeasurementError(f"gateway stats at {url} are not JSON") from None
        if not isinstance(stats, dict):
            raise MeasurementError(f"gateway stats at {url} are not a JSON object")
        return Observation(result=pick_stat(stats, self.spec))
