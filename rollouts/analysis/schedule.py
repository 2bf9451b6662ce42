"""When a metric is measured next: pure arithmetic on its spec and recorded measurements.

Why this exists: the run engine sleeps until the earliest due metric; deciding *when*
from the recorded history (not from in-memory timers) is what lets a restarted
operator resume a run exactly where it stopped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollouts.analysis.assess import effective_count
from rollouts.api.analysis import TERMINAL_ANALYSIS_PHASES, Metric, MetricResult
from rollouts.api.base import duration_seconds

__all__ = ["ERROR_RETRY_SECONDS", "next_measurement_at"]

ERROR_RETRY_SECONDS = 10.0
"""After an Error, a metric without an interval is retried this much later (as in Argo)."""


def next_measurement_at(
    metric: Metric, result: MetricResult | None, run_started_at: datetime
) -> datetime | None:
    """When ``metric`` is due next, or None when it takes no more measurements.

    The first measurement is ``initialDelay`` after the run started; each next one is
    ``interval`` after the previous one *finished* (so two never overlap); an unfinished
    measurement left by an earlier process is due again at once.
    """
    if result is not None and result.phase in TERMINAL_ANALYSIS_PHASES:
        return None
    measurements = (result.measurements or []) if result is not None else []
    if not measurements:
        delay = duration_seconds(metric.initial_delay) if metric.initial_delay is not None else 0
        return run_started_at + timedelta(seconds=delay)
    last = measurements[-1]
    if last.phase not in TERMINAL_ANALYSIS_PHASES or last.finished_at is None:
        return last.started_at or run_started_at
    assert result is not None
    count = effective_count(metric)
    if last.phase != "Error" and count is not None and result.count >= count:
        return None
    if metric.interval is not None:
        wait = duration_seconds(metric.interval)
    elif last.phase == "Error":
        wait = ERROR_RETRY_SECONDS
    else:
        wait = 0.0
    return last.finished_at + timedelta(seconds=wait)
