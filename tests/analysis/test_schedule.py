"""When each metric is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollouts.analysis.schedule import ERROR_RETRY_SECONDS, next_measurement_at
from rollouts.api.analysis import Measurement, MetricResult

from .conftest import metric

T = datetime(2026, 1, 1, tzinfo=UTC)


def _result(*phases: str, count: int | None = None, done: datetime = T) -> MetricResult:
    ms = [Measurement(phase=p, started_at=done - timedelta(seconds=1), finished_at=done)
          for p in phases]
    counted = sum(p != "Error" for p in phases)
    return MetricResult(name="m", phase="Running", measurements=ms,
                        count=counted if count is None else count)


def test_first_measurement_after_initial_delay():
    assert next_measurement_at(metric(), None, T) == T
    assert next_measurement_at(metric(initialDelay="2m"), None, T) == T + timedelta(minutes=2)


def test_next_is_interval_after_the_last_finished():
    m = metric(interval="30s", count=3)
    assert next_measurement_at(m, _result("Successful"), T) == T + timedelta(seconds=30)


def test_no_more_after_count_or_completion():
    m = metric(interval="30s", count=2)
    assert next_measurement_at(m, _result("Successful", "Successful"), T) is None
    assert next_measurement_at(metric(), _result("Successful"), T) is None
    done = _result("Failed").model_copy(update={"phase": "Failed"})
    assert next_measurement_at(metric(interval="1s"), done, T) is None


def test_errors_are_retried_even_without_interval():
    assert next_measurement_at(metric(), _result("Error"), T) == T + timedelta(
        seconds=ERROR_RETRY_SECONDS)


def test_an_unfinished_measurement_is_due_again_at_once():
    result = MetricResult(name="m", phase="Running", measurements=[
        Measurement(phase="Running", started_at=T)])
    assert next_measurement_at(metric(interval="1m"), result, T - timedelta(hours=1)) == T
