"""Request counters cheap enough for the hot path, rendered at scrape time.

Why this exists: every proxied request is counted by route, rule, backend and status
class, with a latency histogram, plus a sliding window for the builtin analysis
provider. The hot path only does integer additions into preallocated lists; all
formatting (Prometheus exposition, quantiles, JSON) happens when someone asks.
Metric names are documented in METRICS.md next to this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["BUCKETS", "Registry", "RouteStats", "render_prometheus"]

#: histogram upper bounds, seconds
BUCKETS: Final[tuple[float, ...]] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_NB: Final = len(BUCKETS) + 1  # last slot is +Inf
_CLASSES: Final = ("1xx", "2xx", "3xx", "4xx", "5xx")
WINDOW_SECONDS: Final = 60


class RouteStats:
    """Counters of one (route, rule, backend) triple. Survives config reloads.

    Consecutive requests with the same status class, latency bucket and second (most of
    them, under load) are only counted in native fields; the run is folded into the
    lists when it ends or when someone reads them: every reader calls ``flush`` first.
    """

    __slots__ = ("buckets", "labels", "run_b", "run_c", "run_n", "run_sec", "run_sum", "sums",
                 "win_err", "win_hist", "win_sec")  # fmt: skip

    def __init__(self, labels: tuple[str, str, str]):
        self.labels = labels
        self.sums = [0.0] * 5
        self.buckets = [[0] * _NB for _ in range(5)]
        # sliding window: one slot per second, WINDOW_SECONDS slots
        self.win_sec = [0] * WINDOW_SECONDS
        self.win_err = [0] * WINDOW_SECONDS
        self.win_hist = [[0] * _NB for _ in range(WINDOW_SECONDS)]
        # the current run of requests not yet in the lists
        self.run_c = self.run_b = self.run_sec = self.run_n = 0
        self.run_sum = 0.0

    @property
    def counts(self) -> list[int]:
        """Requests answered per status class; the histogram holds them all, so the hot
        path does not count them twice."""
        self.flush()
        return [sum(b) for b in self.buckets]

    def record(self, status: int, seconds: float, now: float) -> None:
        c = status // 100 - 1
        if c < 0 or c > 4:
            c = 4
        b = 0  # the first bucket whose bound is >= seconds (most requests: the first few)
        while b < _NB - 1 and BUCKETS[b] < seconds:
            b += 1
        sec = int(now)
        if c != self.run_c or b != self.run_b or sec != self.run_sec:
            self.flush()
            self.run_c, self.run_b, self.run_sec = c, b, sec
        self.run_n += 1
        self.run_sum += seconds

    def flush(self) -> None:
        """Fold the current run into the lists."""
        n = self.run_n
        if not n:
            return
        c, b, sec = self.run_c, self.run_b, self.run_sec
        self.sums[c] += self.run_sum
        self.buckets[c][b] += n
        self.run_n = 0
        self.run_sum = 0.0
        slot = sec % WINDOW_SECONDS
        if self.win_sec[slot] != sec:
            if self.win_sec[slot] > sec:
                return  # that second has left the window already
            self.win_sec[slot] = sec
            self.win_err[slot] = 0
            self.win_hist[slot] = [0] * _NB
        if c == 4:
            self.win_err[slot] += n
        self.win_hist[slot][b] += n

    def window(self, now: float, seconds: int) -> tuple[int, int, list[int]]:
        """(total, 5xx, histogram) over the last ``seconds`` seconds."""
        self.flush()
        lo = int(now) - min(seconds, WINDOW_SECONDS) + 1
        err = 0
        hist = [0] * _NB
        for i in range(WINDOW_SECONDS):
            if self.win_sec[i] >= lo:
                err += self.win_err[i]
                h = self.win_hist[i]
                for j in range(_NB):
                    hist[j] += h[j]
        return sum(hist), err, hist


def _quantile(hist: list[int], q: float) -> float | None:
    total = sum(hist)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for i, n in enumerate(hist):
        upper = BUCKETS[i] if i < len(BUCKETS) else BUCKETS[-1]
        if n and seen + n >= rank:
            # linear interpolation inside the bucket, as Prometheus does
            return lower + (upper - lower) * ((rank - seen) / n)
        seen += n
        lower = upper
    return BUCKETS[-1]


@dataclass
class Registry:
    """All counters of one worker process."""

    routes: dict[tuple[str, str, str], RouteStats] = field(default_factory=dict)
    connect_errors: dict[str, int] = field(default_factory=dict)
    active_connections: int = 0
    config_generation: int = 0
    config_errors: int = 0

    def route_stats(self, route: str, rule: str, backend: str) -> RouteStats:
        key = (route, rule, backend)
        st = self.routes.get(key)
        if st is None:
            st = self.routes[key] = RouteStats(key)
        return st

    def connect_error(self, backend: str) -> None:
        self.connect_errors[backend] = self.connect_errors.get(backend, 0) + 1

    def dump(self) -> dict[str, Any]:
        """Plain-data copy of every counter, for merging across worker processes."""
        for st in self.routes.values():
            st.flush()
        return {
            "routes": [[list(st.labels), st.sums, st.buckets, st.win_sec, st.win_err,
                        st.win_hist]
                       for st in self.routes.values()],
            "connect_errors": self.connect_errors,
            "active_connections": self.active_connections,
            "config_errors": self.config_errors,
        }  # fmt: skip

    def merged(self, others: list[dict[str, Any]]) -> Registry:
        """A new Registry: this one plus the dumps of other workers."""
        out = Registry(config_generation=self.config_generation)
        for data in [self.dump(), *others]:
            out.active_connections += int(data.get("active_connections", 0))
            out.config_errors = max(out.config_errors, int(data.get("config_errors", 0)))
            for k, n in dict(data.get("connect_errors", {})).items():
                out.connect_errors[k] = out.connect_errors.get(k, 0) + int(n)
            for labels, sums, buckets, wsec, werr, whist in data["routes"]:
                st = out.route_stats(*labels)
                for c in range(5):
                    st.sums[c] += sums[c]
                    for j in range(_NB):
                        st.buckets[c][j] += buckets[c][j]
                for i in range(WINDOW_SECONDS):
                    if wsec[i] > st.win_sec[i]:
                        st.win_sec[i], st.win_err[i] = wsec[i], 0
                        st.win_hist[i] = [0] * _NB
                    if wsec[i] == st.win_sec[i]:
                        st.win_err[i] += werr[i]
                        st.win_hist[i] = [a + b for a, b in zip(st.win_hist[i], whist[i],
                                                                strict=True)]  # fmt: skip
        return out

    def backend_stats(self, window: int = 30, now: float | None = None) -> dict[str, Any]:
        """Success rate and latency quantiles per backend over a sliding window."""
        t = time.time() if now is None else now
        window = max(1, min(window, WINDOW_SECONDS))
        per: dict[str, tuple[int, int, list[int]]] = {}
        for st in self.routes.values():
            total, err, hist = st.window(t, window)
            prev = per.get(st.labels[2])
            if prev is not None:
                total += prev[0]
                err += prev[1]
                hist = [a + b for a, b in zip(hist, prev[2], strict=True)]
            per[st.labels[2]] = (total, err, hist)
        out: dict[str, Any] = {}
        for backend, (total, err, hist) in sorted(per.items()):
            out[backend] = {
                "requests": total,
                "errors": err,
                "successRate": (total - err) / total if total else None,
                "latencySeconds": {
                    "p50": _quantile(hist, 0.5),
                    "p90": _quantile(hist, 0.9),
                    "p99": _quantile(hist, 0.99),
                },
            }
        return {"windowSeconds": window, "backends": out}


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(reg: Registry) -> Iterator[str]:
    yield "# HELP rollouts_gateway_requests_total Requests answered by route, rule, backend, class."
    yield "# TYPE rollouts_gateway_requests_total counter"
    stats = sorted(reg.routes.values(), key=lambda s: s.labels)
    for st in stats:
        st.flush()
    for st in stats:
        route, rule, backend = (_esc(x) for x in st.labels)
        base = f'route="{route}",rule="{rule}",backend="{backend}"'
        counts = st.counts
        for c in range(5):
            if counts[c]:
                lab = f'{base},code="{_CLASSES[c]}"'
                yield f"rollouts_gateway_requests_total{{{lab}}} {counts[c]}"
    yield "# HELP rollouts_gateway_request_duration_seconds Time from request head to response end."
    yield "# TYPE rollouts_gateway_request_duration_seconds histogram"
    for st in stats:
        route, rule, backend = (_esc(x) for x in st.labels)
        base = f'route="{route}",rule="{rule}",backend="{backend}"'
        counts = st.counts
        for c in range(5):
            if not counts[c]:
                continue
            lab = f'{base},code="{_CLASSES[c]}"'
            cum = 0
            for i, le in enumerate(BUCKETS):
                cum += st.buckets[c][i]
                yield f'rollouts_gateway_request_duration_seconds_bucket{{{lab},le="{le}"}} {cum}'
            cum += st.buckets[c][-1]
            yield f'rollouts_gateway_request_duration_seconds_bucket{{{lab},le="+Inf"}} {cum}'
            yield f"rollouts_gateway_request_duration_seconds_sum{{{lab}}} {st.sums[c]}"
            yield f"rollouts_gateway_request_duration_seconds_count{{{lab}}} {cum}"
    yield "# HELP rollouts_gateway_upstream_connect_errors_total Failed upstream connects."
    yield "# TYPE rollouts_gateway_upstream_connect_errors_total counter"
    for backend, n in sorted(reg.connect_errors.items()):
        yield f'rollouts_gateway_upstream_connect_errors_total{{backend="{_esc(backend)}"}} {n}'
    yield "# HELP rollouts_gateway_active_connections Open client connections."
    yield "# TYPE rollouts_gateway_active_connections gauge"
    yield f"rollouts_gateway_active_connections {reg.active_connections}"
    yield "# HELP rollouts_gateway_config_generation Generation of the routing table in use."
    yield "# TYPE rollouts_gateway_config_generation gauge"
    yield f"rollouts_gateway_config_generation {reg.config_generation}"
    yield "# HELP rollouts_gateway_config_errors_total Configuration loads that failed."
    yield "# TYPE rollouts_gateway_config_errors_total counter"
    yield f"rollouts_gateway_config_errors_total {reg.config_errors}"


def render_prometheus(reg: Registry) -> str:
    """Prometheus text exposition format 0.0.4."""
    return "\n".join(_series(reg)) + "\n"
