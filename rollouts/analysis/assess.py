"""Pure assessment: measurement -> phase, metric result -> phase, run -> phase and message.

Why this exists: what a measurement, a metric and a run *mean* is decided here without
clocks, providers or I/O, so it can be tested exhaustively and reused by the operator
(which persists the same MetricResults). Rules follow Argo Rollouts:

- success only: not matching is Failed; failure only: not matching is Successful;
  both and neither matches: Inconclusive; failure wins when both match.
- a metric fails past failureLimit, is inconclusive past inconclusiveLimit, errors past
  consecutiveErrorLimit; it succeeds once ``count`` measurements are taken.
- the run's phase is the worst metric phase (Failed > Error > Inconclusive > Successful),
  dry-run metrics excepted; a terminated run ends Successful unless something failed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rollouts.analysis.conditions import (
    ConditionEvaluationError,
    ConditionSyntaxError,
    compile_condition,
)
from rollouts.api.analysis import (
    TERMINAL_ANALYSIS_PHASES,
    AnalysisPhase,
    Measurement,
    Metric,
    MetricResult,
    RunSummary,
    selects_metric,
)
from rollouts.api.rollout import DryRun, MeasurementRetention

__all__ = [
    "DEFAULT_MEASUREMENT_RETENTION",
    "RunAssessment",
    "assess_metric",
    "assess_run",
    "effective_count",
    "format_value",
    "is_dry_run",
    "measurement_phase",
    "metric_int",
    "record_measurement",
    "retention_limit",
    "worse",
]

DEFAULT_MEASUREMENT_RETENTION = 10
_SEVERITY = {"Successful": 0, "Inconclusive": 1, "Error": 2, "Failed": 3}


def worse(a: AnalysisPhase, b: AnalysisPhase) -> bool:
    """Whether phase ``a`` is worse than ``b`` (Failed > Error > Inconclusive > Successful)."""
    return _SEVERITY.get(a, -1) > _SEVERITY.get(b, -1)


def metric_int(value: int | str | None, default: int) -> int:
    """An intstr field of a metric (count, limits) as an integer, after arg substitution."""
    if value is None:
        return default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(text)


def effective_count(metric: Metric) -> int | None:
    """How many measurements complete the metric; None means until the run is terminated."""
    count = metric_int(metric.count, 0)
    if count == 0:
        return None if metric.interval is not None else 1
    return count


def format_value(result: object) -> str:
    """A measured value as it is shown and stored (``[0.97]``, ``0.5``, ``"ok"``)."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        return value
    try:
        text = json.dumps(clean(result), separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = str(result)
    return text.replace('"NaN"', "NaN").replace('"+Inf"', "+Inf").replace('"-Inf"', "-Inf")


def measurement_phase(
    success_condition: str | None, failure_condition: str | None, result: object
) -> tuple[AnalysisPhase, str | None]:
    """The phase of one measurement with value ``result`` and a message for Error/Failed."""
    try:
        failed = (compile_condition(failure_condition).matches(result)
                  if failure_condition else None)
        succeeded = (compile_condition(success_condition).matches(result)
                     if success_condition else None)
    except (ConditionEvaluationError, ConditionSyntaxError) as error:
        return "Error", f"could not evaluate condition on {format_value(result)}: {error}"
    if failed:
        return "Failed", f"failureCondition {failure_condition!r} matched"
    if succeeded or succeeded is None:
        return "Successful", None
    if failed is None:
        return "Failed", f"successCondition {success_condition!r} did not match"
    return "Inconclusive", "neither successCondition nor failureCondition matched"


def is_dry_run(name: str, dry_run: Sequence[DryRun] | None) -> bool:
    return any(selects_metric(entry.metric_name, name) for entry in dry_run or [])


def retention_limit(name: str, retention: Sequence[MeasurementRetention] | None) -> int:
    for entry in retention or []:
        if selects_metric(entry.metric_name, name):
            return entry.limit
    return DEFAULT_MEASUREMENT_RETENTION


def record_measurement(result: MetricResult, measurement: Measurement, limit: int) -> MetricResult:
    """``result`` with a finished ``measurement`` counted and the history trimmed to ``limit``.

    A Running measurement of the same metric at the end (one that an earlier process
    started and never finished) is replaced rather than kept.
    """
    history = list(result.measurements or [])
    if history and history[-1].phase == "Running":
        history.pop()
    history.append(measurement)
    # at least the last measurement is kept: the schedule continues from it
    history = history[-max(limit, 1):]
    update: dict[str, Any] = {"measurements": history}
    phase = measurement.phase
    if phase == "Error":
        update["error"] = result.error + 1
        update["consecutive_error"] = result.consecutive_error + 1
    elif phase in ("Successful", "Failed", "Inconclusive"):
        key = phase.lower()
        update[key] = getattr(result, key) + 1
        update["count"] = result.count + 1
        update["consecutive_error"] = 0
    return result.model_copy(update=update)


def _last_value(result: MetricResult, phase: str) -> str:
    for measurement in reversed(result.measurements or []):
        if measurement.phase == phase:
            bits = []
            if measurement.value is not None:
                bits.append(f"value {measurement.value}")
            if measurement.message:
                bits.append(measurement.message)
            return "; last: " + ", ".join(bits) if bits else ""
    return ""


def assess_metric(
    metric: Metric, result: MetricResult, terminating: bool
) -> tuple[AnalysisPhase, str | None]:
    """The phase of a metric from its counters, and why when it is not Successful."""
    if result.phase in TERMINAL_ANALYSIS_PHASES:
        return result.phase, result.message
    if not result.measurements and result.count == 0 and result.error == 0:
        return ("Successful" if terminating else "Pending"), None
    if result.measurements and result.measurements[-1].phase not in TERMINAL_ANALYSIS_PHASES:
        return "Running", None
    failure_limit = metric_int(metric.failure_limit, 0)
    inconclusive_limit = metric_int(metric.inconclusive_limit, 0)
    error_limit = metric_int(metric.consecutive_error_limit, 4)
    if result.failed > failure_limit:
        return "Failed", (f"{result.failed} measurement(s) failed, more than failureLimit "
                          f"{failure_limit}{_last_value(result, 'Failed')}")
    if result.inconclusive > inconclusive_limit:
        return "Inconclusive", (f"{result.inconclusive} measurement(s) inconclusive, more than "
                                f"inconclusiveLimit {inconclusive_limit}"
                                f"{_last_value(result, 'Inconclusive')}")
    if result.consecutive_error > error_limit:
        return "Error", (f"{result.consecutive_error} consecutive errors, more than "
                         f"consecutiveErrorLimit {error_limit}{_last_value(result, 'Error')}")
    count = effective_count(metric)
    if count is not None and result.count >= count:
        return "Successful", None
    if terminating:
        return "Successful", None
    return "Running", None


@dataclass
class RunAssessment:
    phase: AnalysisPhase
    message: str | None
    metric_phases: dict[str, tuple[AnalysisPhase, str | None]] = field(default_factory=dict)
    summary: RunSummary = field(default_factory=RunSummary)
    dry_run_summary: RunSummary | None = None


def _tally(summary: RunSummary, phase: str) -> None:
    summary.count += 1
    if phase == "Successful":
        summary.successful += 1
    elif phase == "Failed":
        summary.failed += 1
    elif phase == "Inconclusive":
        summary.inconclusive += 1
    elif phase == "Error":
        summary.error += 1


def assess_run(
    metrics: Iterable[Metric],
    results: dict[str, MetricResult],
    *,
    dry_run: Sequence[DryRun] | None = None,
    terminate: bool = False,
) -> RunAssessment:
    """The run's phase and message from its metrics' results.

    Any non-dry-run metric that Failed, Errored or was Inconclusive terminates the run:
    metrics still measuring then end Successful and the worst phase decides.
    """
    metrics = list(metrics)
    # assess_metric returns a recorded final phase as it is, so this also sees those
    terminating = terminate or any(
        assess_metric(m, results[m.name], False)[0] in ("Failed", "Error", "Inconclusive")
        for m in metrics if m.name in results and not is_dry_run(m.name, dry_run)
    )
    assessment = RunAssessment(phase="Successful", message=None)
    dry_summary = RunSummary()
    worst: AnalysisPhase | None = None
    everything_completed = True
    for metric in metrics:
        dry = is_dry_run(metric.name, dry_run)
        result = results.get(metric.name)
        if result is None:
            phase: AnalysisPhase = "Successful" if terminating else "Pending"
            reason = None
        else:
            phase, reason = assess_metric(metric, result, terminating)
        assessment.metric_phases[metric.name] = (phase, reason)
        if phase not in TERMINAL_ANALYSIS_PHASES:
            everything_completed = False
            continue
        _tally(dry_summary if dry else assessment.summary, phase)
        if dry:
            continue
        if worst is None or worse(phase, worst):
            worst = phase
            if phase != "Successful":
                assessment.message = f'metric "{metric.name}" assessed {phase}: {reason}'
    if any(is_dry_run(m.name, dry_run) for m in metrics):
        assessment.dry_run_summary = dry_summary
    if not everything_completed:
        assessment.phase = "Running"
        assessment.message = None
        return assessment
    assessment.phase = worst or "Successful"
    if assessment.phase == "Successful":
        assessment.message = ("run terminated; no metric failed" if terminate
                              else None)
    return assessment
