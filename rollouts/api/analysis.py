"""AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun (``rollouts.dev/v1alpha1``).

Field names and defaults follow Argo Rollouts' analysis: metrics with a schedule
(initialDelay, interval, count), success/failure conditions over ``result``, limits,
and one provider each (prometheus, web, or our own gateway's stats).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from rollouts.api.base import KubeObject, Model, check_duration
from rollouts.api.rollout import DryRun, MeasurementRetention

__all__ = [
    "TERMINAL_ANALYSIS_PHASES",
    "AnalysisPhase",
    "AnalysisRun",
    "AnalysisRunSpec",
    "AnalysisRunStatus",
    "AnalysisTemplate",
    "AnalysisTemplateSpec",
    "Argument",
    "ArgumentValueFrom",
    "ClusterAnalysisTemplate",
    "GatewayMetric",
    "Measurement",
    "Metric",
    "MetricCount",
    "MetricDuration",
    "MetricProvider",
    "MetricResult",
    "PrometheusMetric",
    "RunSummary",
    "SecretKeyRef",
    "TLSConfig",
    "WebMetric",
    "selects_metric",
]

AnalysisPhase = Literal["Pending", "Running", "Successful", "Failed", "Error", "Inconclusive"]

TERMINAL_ANALYSIS_PHASES: frozenset[AnalysisPhase] = frozenset(
    {"Successful", "Failed", "Error", "Inconclusive"}
)
"""The phases in which an AnalysisRun (or one of its metrics or measurements) is finished.

A run in one of these takes no more measurements and its verdict is final; ``Pending``
and ``Running`` are the only phases that are not terminal. The single definition of
that set: everything that asks "is this run done?" tests membership here.
"""

_ARG_PLACEHOLDER = re.compile(r"^\{\{\s*args\.[A-Za-z0-9_.-]+\s*\}\}$")


def _check_count(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid value {value}: must not be negative")
        return value
    if value.strip().isdigit() or _ARG_PLACEHOLDER.match(value.strip()):
        return value
    raise ValueError(f"invalid value {value!r}: use an integer or {{{{args.NAME}}}}")


def _check_metric_duration(value: int | str) -> int | str:
    if isinstance(value, str) and _ARG_PLACEHOLDER.match(value.strip()):
        return value
    return check_duration(value)


MetricCount = Annotated[int | str, AfterValidator(_check_count)]
"""A count or limit of a metric: an integer, a digit string, or ``{{args.NAME}}``."""
MetricDuration = Annotated[int | str, AfterValidator(_check_metric_duration)]
"""A metric's interval or initialDelay: a duration (``30s``, ``5m``) or ``{{args.NAME}}``."""


class SecretKeyRef(Model):
    name: str
    key: str


class FieldRefSource(Model):
    field_path: str


class ArgumentValueFrom(Model):
    secret_key_ref: SecretKeyRef | None = None
    field_ref: FieldRefSource | None = None


class Argument(Model):
    """A template argument: ``{{args.NAME}}`` in queries, URLs and headers."""

    name: str
    value: str | None = None
    value_from: ArgumentValueFrom | None = None


class Header(Model):
    key: str
    value: str


class BasicAuth(Model):
    username: str
    password: str


class OAuth2(Model):
    token_url: str
    client_id: str
    client_secret: str
    scopes: list[str] | None = None


class PrometheusAuthentication(Model):
    basic: BasicAuth | None = None
    bearer_token: str | None = None
    oauth2: OAuth2 | None = None


class PrometheusRange(Model):
    start: str
    end: str
    step: str


class TLSConfig(Model):
    """TLS towards a metric source: a CA bundle, a client certificate, or no checks."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False


class PrometheusMetric(Model):
    address: str
    query: str
    timeout: int | None = Field(default=None, ge=1, description="seconds")
    headers: list[Header] | None = None
    authentication: PrometheusAuthentication | None = None
    insecure: bool = False
    tls: TLSConfig | None = None
    range_query: PrometheusRange | None = Field(default=None, alias="rangeQuery")


class WebMetric(Model):
    url: str
    method: Literal["GET", "POST", "PUT"] = "GET"
    headers: list[Header] | None = None
    body: str | None = None
    json_body: Any = None
    json_path: str | None = None
    timeout_seconds: int = Field(default=10, ge=1)
    insecure: bool = False


class GatewayMetric(Model):
    """Our own gateway's stats for one backend Service over a sliding window."""

    address: str
    service: str
    namespace: str | None = None
    stat: Literal["success-rate", "latency-p50", "latency-p90", "latency-p99", "requests"] = (
        "success-rate"
    )
    window: MetricDuration = "60s"


class MetricProvider(Model):
    """Exactly one provider is set."""

    prometheus: PrometheusMetric | None = None
    web: WebMetric | None = None
    gateway: GatewayMetric | None = None


class Metric(Model):
    name: str
    interval: MetricDuration | None = None
    initial_delay: MetricDuration | None = None
    count: MetricCount | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: MetricCount = 0
    inconclusive_limit: MetricCount = 0
    consecutive_error_limit: MetricCount = 4
    provider: MetricProvider


class AnalysisTemplateSpec(Model):
    args: list[Argument] | None = None
    metrics: list[Metric] = Field(min_length=1)
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None


class AnalysisTemplate(KubeObject):
    api_version: Literal["rollouts.dev/v1alpha1"] = "rollouts.dev/v1alpha1"
    kind: Literal["AnalysisTemplate"] = "AnalysisTemplate"
    spec: AnalysisTemplateSpec


class ClusterAnalysisTemplate(KubeObject):
    api_version: Literal["rollouts.dev/v1alpha1"] = "rollouts.dev/v1alpha1"
    kind: Literal["ClusterAnalysisTemplate"] = "ClusterAnalysisTemplate"
    spec: AnalysisTemplateSpec


class AnalysisRunSpec(AnalysisTemplateSpec):
    terminate: bool = False


def selects_metric(pattern: str, name: str) -> bool:
    """Whether a dryRun/measurementRetention ``metricName`` (a name, ``*`` or a regular
    expression matching the whole name) selects the metric ``name``."""
    if pattern in ("*", name):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


class Measurement(Model):
    phase: AnalysisPhase
    started_at: datetime | None = None
    finished_at: datetime | None = None
    value: str | None = None
    message: str | None = None
    resume_at: datetime | None = None


class MetricResult(Model):
    name: str
    phase: AnalysisPhase
    measurements: list[Measurement] | None = None
    message: str | None = None
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    dry_run: bool | None = None


class RunSummary(Model):
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0


class AnalysisRunStatus(Model):
    phase: AnalysisPhase | None = None
    message: str | None = None
    started_at: datetime | None = None
    metric_results: list[MetricResult] | None = None
    run_summary: RunSummary | None = None
    dry_run_summary: RunSummary | None = None


class AnalysisRun(KubeObject):
    api_version: Literal["rollouts.dev/v1alpha1"] = "rollouts.dev/v1alpha1"
    kind: Literal["AnalysisRun"] = "AnalysisRun"
    spec: AnalysisRunSpec
    status: AnalysisRunStatus | None = None
