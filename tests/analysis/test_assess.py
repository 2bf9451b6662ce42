"""Pure assessment: what a measurement, a metric and a run mean."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.analysis.assess import (
    assess_metric,
    assess_run,
    effective_count,
    format_value,
    is_dry_run,
    measurement_phase,
    record_measurement,
    retention_limit,
)
from rollouts.api.analysis import Measurement, MetricResult
from rollouts.api.rollout import DryRun, MeasurementRetention

from .conftest import metric

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("success", "failure", "result", "phase"), [
    ("result > 1", None, 2, "Successful"),
    ("result > 1", None, 0, "Failed"),
    (None, "result > 1", 2, "Failed"),
    (None, "result > 1", 0, "Successful"),
    ("result > 5", "result < 1", 3, "Inconclusive"),
    ("result > 5", "result < 1", 6, "Successful"),
    ("result > 5", "result < 1", 0, "Failed"),
    ("result >= 0", "result < 1", 0, "Failed"),  # both match: failure wins
    (None, None, 42, "Successful"),
    ("result[0] > 1", None, [], "Error"),
])
def test_measurement_phase_follows_argo_rules(success, failure, result, phase):
    assert measurement_phase(success, failure, result)[0] == phase


def test_measurement_error_message_shows_the_value():
    phase, message = measurement_phase("result > 'x'", None, 3)
    assert phase == "Error" and "3" in message and "cannot compare" in message


def _result(**counts):
    return MetricResult(name="m", phase="Running",
                        measurements=[Measurement(phase="Successful", finished_at=T)], **counts)


def test_metric_fails_only_past_failure_limit():
    m = metric(failureLimit=2, interval="1s")
    assert assess_metric(m, _result(count=2, failed=2), False)[0] == "Running"
    phase, reason = assess_metric(m, _result(count=3, failed=3), False)
    assert phase == "Failed" and "more than failureLimit 2" in reason


def test_metric_inconclusive_and_error_limits():
    m = metric(inconclusiveLimit=1, consecutiveErrorLimit=2, interval="1s")
    assert assess_metric(m, _result(count=2, inconclusive=2), False)[0] == "Inconclusive"
    assert assess_metric(m, _result(error=2, consecutive_error=2), False)[0] == "Running"
    assert assess_metric(m, _result(error=3, consecutive_error=3), False)[0] == "Error"


def test_default_consecutive_error_limit_is_four():
    m = metric(interval="1s")
    assert assess_metric(m, _result(error=4, consecutive_error=4), False)[0] == "Running"
    assert assess_metric(m, _result(error=5, consecutive_error=5), False)[0] == "Error"


def test_count_completes_and_errors_do_not_count():
    m = metric(count=3, interval="1s")
    assert assess_metric(m, _result(count=2, successful=2, error=5, consecutive_error=0),
                         False)[0] == "Running"
    assert assess_metric(m, _result(count=3, successful=3), False)[0] == "Successful"


def test_effective_count():
    assert effective_count(metric()) == 1
    assert effective_count(metric(interval="5s")) is None
    assert effective_count(metric(interval="5s", count=0)) is None
    assert effective_count(metric(interval="5s", count="3")) == 3


def test_indefinite_metric_ends_successful_only_when_terminated():
    m = metric(interval="1s")
    assert assess_metric(m, _result(count=50, successful=50), False)[0] == "Running"
    assert assess_metric(m, _result(count=50, successful=50), True)[0] == "Successful"


def test_run_phase_worst_wins_and_message_names_metric_and_value():
    metrics = [metric("a", interval="1s", count=1), metric("b", count=1),
               metric("c", count=1)]
    failed = MetricResult(name="a", phase="Running", count=1, failed=1, measurements=[
        Measurement(phase="Failed", finished_at=T, value="[0.42]",
                    message="successCondition 'result[0] >= 0.95' did not match")])
    errored = MetricResult(name="b", phase="Running", error=5, consecutive_error=5,
                           measurements=[Measurement(phase="Error", finished_at=T)])
    ok = MetricResult(name="c", phase="Running", count=1, successful=1,
                      measurements=[Measurement(phase="Successful", finished_at=T)])
    run = assess_run(metrics, {"a": failed, "b": errored, "c": ok})
    assert run.phase == "Failed"
    assert 'metric "a"' in run.message and "[0.42]" in run.message
    assert run.summary.failed == 1 and run.summary.error == 1 and run.summary.successful == 1
    run = assess_run(metrics, {"b": errored, "c": ok})
    assert run.phase == "Error"


def test_inconclusive_beats_successful():
    metrics = [metric("a", count=1), metric("b", count=1)]
    inc = MetricResult(name="a", phase="Running", count=1, inconclusive=1,
                       measurements=[Measurement(phase="Inconclusive", finished_at=T)])
    ok = MetricResult(name="b", phase="Running", count=1, successful=1,
                      measurements=[Measurement(phase="Successful", finished_at=T)])
    assert assess_run(metrics, {"a": inc, "b": ok}).phase == "Inconclusive"


def test_a_failure_terminates_other_indefinite_metrics():
    metrics = [metric("a", count=1), metric("forever", interval="1s")]
    failed = MetricResult(name="a", phase="Running", count=1, failed=1,
                          measurements=[Measurement(phase="Failed", finished_at=T)])
    running = MetricResult(name="forever", phase="Running", count=3, successful=3,
                           measurements=[Measurement(phase="Successful", finished_at=T)])
    assert assess_run(metrics, {"a": failed, "forever": running}).phase == "Failed"


def test_terminated_run_is_successful_unless_something_failed():
    metrics = [metric("forever", interval="1s"), metric("never-measured", count=5,
                                                        interval="1s")]
    running = MetricResult(name="forever", phase="Running", count=3, successful=3,
                           measurements=[Measurement(phase="Successful", finished_at=T)])
    assert assess_run(metrics, {"forever": running}).phase == "Running"
    done = assess_run(metrics, {"forever": running}, terminate=True)
    assert done.phase == "Successful" and "terminated" in done.message


def test_dry_run_failures_never_decide():
    metrics = [metric("real", count=1), metric("shadow", count=1)]
    ok = MetricResult(name="real", phase="Running", count=1, successful=1,
                      measurements=[Measurement(phase="Successful", finished_at=T)])
    bad = MetricResult(name="shadow", phase="Running", count=1, failed=1,
                       measurements=[Measurement(phase="Failed", finished_at=T)])
    run = assess_run(metrics, {"real": ok, "shadow": bad}, dry_run=[DryRun(metric_name="sh.*")])
    assert run.phase == "Successful"
    assert run.dry_run_summary is not None and run.dry_run_summary.failed == 1
    assert run.summary.failed == 0


def test_record_counts_and_trims_history():
    result = MetricResult(name="m", phase="Running")
    for i in range(5):
        result = record_measurement(
            result, Measurement(phase="Successful" if i % 2 else "Error", finished_at=T), 2)
    assert len(result.measurements) == 2
    assert (result.count, result.successful, result.error) == (2, 2, 3)
    assert result.consecutive_error == 1


def test_record_replaces_an_abandoned_running_measurement():
    result = MetricResult(name="m", phase="Running",
                          measurements=[Measurement(phase="Running", started_at=T)])
    result = record_measurement(result, Measurement(phase="Successful", finished_at=T), 10)
    assert [m.phase for m in result.measurements] == ["Successful"]


def test_retention_and_dry_run_matching():
    retention = [MeasurementRetention(metric_name="lat.*", limit=3)]
    assert retention_limit("latency", retention) == 3
    assert retention_limit("errors", retention) == 10
    assert is_dry_run("x", [DryRun(metric_name="*")])
    assert not is_dry_run("x", None)


def test_format_value_keeps_nan_readable():
    assert format_value([math.nan, 0.5]) == "[NaN,0.5]"
    assert format_value(math.inf) == "+Inf"
    assert format_value({"ok": True}) == '{"ok":true}'


# ---- properties -----------------------------------------------------------------------


_counts = st.integers(min_value=0, max_value=6)


@given(failed=_counts, inconclusive=_counts, errors=_counts, ok=_counts,
       failure_limit=_counts, inconclusive_limit=_counts, error_limit=_counts)
def test_metric_phase_precedence(failed, inconclusive, errors, ok, failure_limit,
                                 inconclusive_limit, error_limit):
    m = metric(interval="1s", failureLimit=failure_limit, inconclusiveLimit=inconclusive_limit,
               consecutiveErrorLimit=error_limit)
    result = MetricResult(name="m", phase="Running", count=failed + inconclusive + ok,
                          failed=failed, inconclusive=inconclusive, successful=ok,
                          error=errors, consecutive_error=errors,
                          measurements=[Measurement(phase="Successful", finished_at=T)])
    phase, reason = assess_metric(m, result, False)
    if failed > failure_limit:
        assert phase == "Failed"
    elif inconclusive > inconclusive_limit:
        assert phase == "Inconclusive"
    elif errors > error_limit:
        assert phase == "Error"
    else:
        assert phase == "Running"
    assert (reason is None) == (phase == "Running")


_phases = st.sampled_from(["Successful", "Failed", "Inconclusive", "Error"])


@given(st.lists(_phases, min_size=1, max_size=5), st.lists(_phases, max_size=3))
def test_run_is_the_worst_real_metric_and_dry_runs_never_count(real, shadow):
    metrics = [metric(f"r{i}") for i in range(len(real))]
    metrics += [metric(f"s{i}") for i in range(len(shadow))]
    results = {f"r{i}": MetricResult(name=f"r{i}", phase=p) for i, p in enumerate(real)}
    results |= {f"s{i}": MetricResult(name=f"s{i}", phase=p) for i, p in enumerate(shadow)}
    run = assess_run(metrics, results, dry_run=[DryRun(metric_name="s.*")])
    order = ["Successful", "Inconclusive", "Error", "Failed"]
    assert run.phase == max(real, key=order.index)
    assert run.summary.count == len(real)
    if run.phase != "Successful":
        assert run.message.startswith(f'metric "r{real.index(run.phase)}" assessed {run.phase}')
