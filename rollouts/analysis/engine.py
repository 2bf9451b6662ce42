"""The AnalysisRun engine: measure each metric on its schedule until the run is decided.

Why this exists: this is the only part of analysis with effects. It is given an
AnalysisRun, a provider factory, a clock and a callback that persists status; the
meaning of every measurement comes from ``assess`` and the timing from ``schedule``,
both pure. Each metric has at most one measurement in flight; a run resumes from its
recorded MetricResults (an operator restart continues where it stopped); whatever a
provider does (raise, hang, return garbage) becomes an Error measurement, never a
crashed loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rollouts.analysis.args import ArgumentError, SecretLookup, resolve_metrics
from rollouts.analysis.assess import (
    assess_run,
    format_value,
    is_dry_run,
    measurement_phase,
    record_measurement,
    retention_limit,
)
from rollouts.analysis.clock import Clock, RealClock, with_timeout
from rollouts.analysis.providers.base import (
    MeasurementError,
    Provider,
    ProviderConfigError,
    ProviderFactory,
)
from rollouts.analysis.providers.factory import create_provider
from rollouts.analysis.schedule import next_measurement_at
from rollouts.api.analysis import (
    TERMINAL_ANALYSIS_PHASES,
    AnalysisRun,
    AnalysisRunStatus,
    Measurement,
    Metric,
    MetricResult,
)

__all__ = ["TIMEOUT_GRACE_SECONDS", "MeasurementListener", "RunEngine", "StatusSink"]

StatusSink = Callable[[AnalysisRunStatus], Awaitable[None] | None]
MeasurementListener = Callable[[str, Measurement], Awaitable[None] | None]
TIMEOUT_GRACE_SECONDS = 1.0
"""Beyond a provider's own timeout, the engine abandons a measurement after this."""


async def _call(callback: Callable[..., Awaitable[None] | None] | None, *args: Any) -> None:
    if callback is None:
        return
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        await outcome


class RunEngine:
    """Runs one AnalysisRun to a final phase: ``await RunEngine(run, ...).run()``."""

    def __init__(
        self,
        run: AnalysisRun,
        *,
        providers: ProviderFactory = create_provider,
        clock: Clock | None = None,
        persist: StatusSink | None = None,
        on_measurement: MeasurementListener | None = None,
        secrets: SecretLookup | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_model = run
        self.providers = providers
        self.clock: Clock = clock or RealClock()
        self.persist = persist
        self.on_measurement = on_measurement
        self.secrets = secrets
        self.document = document
        self.status = (run.status.model_copy(deep=True) if run.status is not None
                       else AnalysisRunStatus())
        self._terminate = asyncio.Event()
        if run.spec.terminate:
            self._terminate.set()

    def terminate(self) -> None:
        """Stop measuring: metrics still running end Successful unless one already failed."""
        self._terminate.set()

    @property
    def terminated(self) -> bool:
        return self._terminate.is_set()

    async def _save(self) -> None:
        await _call(self.persist, self.status.model_copy(deep=True))

    async def _fail(self, message: str) -> AnalysisRunStatus:
        self.status.phase = "Error"
        self.status.message = message
        if self.status.started_at is None:
            self.status.started_at = self.clock.now()
        await self._save()
        return self.status

    async def run(self) -> AnalysisRunStatus:
        """Measure until the run is Successful, Failed, Inconclusive or Error; the status.

        If ``persist`` raises, so does this (nothing is lost: a new engine resumes from
        the last status that was persisted).
        """
        if self.status.phase in TERMINAL_ANALYSIS_PHASES:
            return self.status
        try:
            metrics = resolve_metrics(self.run_model, self.secrets, self.document)
        except ArgumentError as error:
            return await self._fail(str(error))
        providers: dict[str, Provider] = {}
        try:
            for metric in metrics:
                providers[metric.name] = self.providers(metric)
        except (ProviderConfigError, MeasurementError, ValueError) as error:
            return await self._fail(f"metric {metric.name!r}: {error}")
        try:
            return await self._loop(metrics, providers)
        finally:
            for provider in providers.values():
                with contextlib.suppress(Exception):
                    await provider.close()

    def _results(self) -> dict[str, MetricResult]:
        return {r.name: r for r in self.status.metric_results or []}

    async def _loop(
        self, metrics: list[Metric], providers: dict[str, Provider]
    ) -> AnalysisRunStatus:
        spec = self.run_model.spec
        if self.status.started_at is None:
            self.status.started_at = self.clock.now()
        started = self.status.started_at
        results = self._results()
        inflight: dict[str, asyncio.Task[Measurement]] = {}
        stop_waiter = asyncio.ensure_future(self._terminate.wait())
        try:
            while True:
                assessment = assess_run(metrics, results, dry_run=spec.dry_run,
                                        terminate=self.terminated)
                for name, (phase, reason) in assessment.metric_phases.items():
                    if name in results and results[name].phase != phase:
                        results[name] = results[name].model_copy(
                            update={"phase": phase, "message": reason})
                self.status.metric_results = [results[m.name] for m in metrics
                                              if m.name in results] or None
                self.status.run_summary = assessment.summary
                self.status.dry_run_summary = assessment.dry_run_summary
                self.status.message = assessment.message
                if assessment.phase in TERMINAL_ANALYSIS_PHASES:
                    self.status.phase = assessment.phase
                    await self._save()
                    return self.status
                if self.status.phase != "Running":
                    self.status.phase = "Running"
                    await self._save()
                now = self.clock.now()
                next_due = None
                for metric in metrics:
                    if metric.name in inflight:
                        continue
                    due = next_measurement_at(metric, results.get(metric.name), started)
                    if due is None:
                        continue
                    if due <= now:
                        inflight[metric.name] = asyncio.ensure_future(
                            self._measure(metric, providers[metric.name]))
                    elif next_due is None or due < next_due:
                        next_due = due
                waiters: set[asyncio.Future[Any]] = {stop_waiter, *inflight.values()}
                timer = None
                if next_due is not None:
                    timer = asyncio.ensure_future(
                        self.clock.sleep((next_due - now).total_seconds()))
                    waiters.add(timer)
                if self.terminated and not inflight:
                    waiters = set()
                if waiters:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if timer is not None and not timer.done():
                    timer.cancel()
                for name, task in list(inflight.items()):
                    if not task.done():
                        continue
                    del inflight[name]
                    measurement = task.result()
                    previous = results.get(name) or MetricResult(
                        name=name, phase="Running",
                        dry_run=True if is_dry_run(name, spec.dry_run) else None)
                    results[name] = record_measurement(
                        previous, measurement, retention_limit(name, spec.measurement_retention))
                    self.status.metric_results = [results[m.name] for m in metrics
                                                  if m.name in results]
                    await _call(self.on_measurement, name, measurement)
                    await self._save()
                if self.terminated and inflight:
                    # a terminated run does not wait for slow providers
                    for task in inflight.values():
                        task.cancel()
                    inflight.clear()
        finally:
            stop_waiter.cancel()
            for task in inflight.values():
                task.cancel()

    async def _measure(self, metric: Metric, provider: Provider) -> Measurement:
        started = self.clock.now()
        value: str | None = None
        try:
            observation = await with_timeout(
                self.clock, provider.measure(), provider.timeout_seconds + TIMEOUT_GRACE_SECONDS)
            value = observation.value or format_value(observation.result)
            phase, message = measurement_phase(
                metric.success_condition, metric.failure_condition, observation.result)
        except MeasurementError as error:
            phase, message = "Error", str(error)
        except TimeoutError:
            phase, message = "Error", (f"{provider.kind} provider did not answer within "
                                       f"{provider.timeout_seconds:g}s")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a provider bug must not stop the run
            phase = "Error"
            message = f"{provider.kind} provider failed: {type(error).__name__}: {error}"
        return Measurement(phase=phase, started_at=started, finished_at=self.clock.now(),
                           value=value, message=message)
