"""The run engine on a virtual clock: schedules, limits, termination, resume."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.analysis.args import build_run
from rollouts.analysis.assess import assess_run
from rollouts.analysis.clock import VirtualClock
from rollouts.analysis.engine import RunEngine
from rollouts.analysis.providers.base import MeasurementError
from rollouts.api.analysis import AnalysisRunStatus, Metric

from .conftest import run_of, scripted, template

pytestmark = pytest.mark.timeout(20)


def _m(name="m", **fields):
    return {"name": name, "provider": {"web": {"url": "http://127.0.0.1:1/"}}, **fields}


async def _go(run, clock, factory, **kwargs):
    saved: list[AnalysisRunStatus] = []
    seen: list[tuple[str, str]] = []
    engine = RunEngine(run, providers=factory, clock=clock, persist=saved.append,
                       on_measurement=lambda n, m: seen.append((n, m.phase)), **kwargs)
    status = await engine.run()
    return engine, status, saved, seen


async def test_count_and_interval_on_a_virtual_clock():
    clock = VirtualClock()
    start = clock.now()
    factory, _providers = scripted(clock, m=[0.99])
    run = run_of([_m(count=3, interval="5m", successCondition="result > 0.95")])
    _, status, saved, seen = await _go(run, clock, factory)
    assert status.phase == "Successful"
    assert seen == [("m", "Successful")] * 3
    times = [x.started_at for x in status.metric_results[0].measurements]
    assert times == [start, start + timedelta(minutes=5), start + timedelta(minutes=10)]
    assert saved[-1].phase == "Successful" and saved[-1].run_summary.successful == 1


async def test_initial_delay_comes_first():
    clock = VirtualClock()
    start = clock.now()
    factory, _ = scripted(clock, m=[1])
    _, status, _, _ = await _go(run_of([_m(initialDelay="90s")]), clock, factory)
    assert status.metric_results[0].measurements[0].started_at == start + timedelta(seconds=90)


async def test_fails_past_failure_limit_with_a_message_naming_metric_and_value():
    clock = VirtualClock()
    factory, providers = scripted(clock, rate=[0.99, 0.42, 0.41, 0.99, 0.99])
    run = run_of([_m("rate", count=5, interval="1m", failureLimit=1,
                     successCondition="result >= 0.95")])
    _, status, _, seen = await _go(run, clock, factory)
    assert status.phase == "Failed"
    assert providers["rate"].calls == 3
    assert 'metric "rate"' in status.message and "0.41" in status.message
    assert [p for _, p in seen] == ["Successful", "Failed", "Failed"]


async def test_inconclusive_past_inconclusive_limit():
    clock = VirtualClock()
    factory, _ = scripted(clock, m=[3])
    run = run_of([_m(count=4, interval="10s", successCondition="result > 5",
                     failureCondition="result < 1")])
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Inconclusive"


async def test_consecutive_errors_end_in_error_never_successful():
    clock = VirtualClock()
    factory, providers = scripted(clock, m=[MeasurementError("connection refused")])
    run = run_of([_m(count=2, interval="10s", consecutiveErrorLimit=2,
                     successCondition="result > 0")])
    _, status, _, _seen = await _go(run, clock, factory)
    assert status.phase == "Error"
    assert providers["m"].calls == 3
    assert "connection refused" in status.message
    assert "3 consecutive errors" in status.message


async def test_a_success_resets_consecutive_errors():
    clock = VirtualClock()
    boom = MeasurementError("flaky")
    factory, _ = scripted(clock, m=[boom, boom, 1, boom, boom, 1, 1])
    run = run_of([_m(count=3, interval="1s", consecutiveErrorLimit=2,
                     successCondition="result > 0")])
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Successful"
    assert status.metric_results[0].error == 4


async def test_provider_bug_is_an_error_measurement_not_a_crash():
    clock = VirtualClock()
    factory, _ = scripted(clock, m=[ZeroDivisionError("oops"), 1])
    _, status, _, seen = await _go(run_of([_m(count=1, interval="1s")]), clock, factory)
    assert status.phase == "Successful"
    assert seen[0] == ("m", "Error")
    errors = [x for x in status.metric_results[0].measurements if x.phase == "Error"]
    assert "ZeroDivisionError" in errors[0].message


async def test_slow_provider_hits_the_timeout_and_never_overlaps():
    clock = VirtualClock()
    factory, providers = scripted(clock, m=[("sleep", 120)])
    providers["m"].timeout = 10
    run = run_of([_m(count=3, interval="1s", consecutiveErrorLimit=1)])
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Error"
    assert "did not answer within 10s" in status.metric_results[0].measurements[-1].message
    assert providers["m"].max_active == 1


async def test_slow_but_in_time_measurements_never_overlap():
    clock = VirtualClock()
    start = clock.now()
    factory, providers = scripted(clock, m=[("sleep", 3, 1.0)])
    run = run_of([_m(count=3, interval="1s")])
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Successful"
    assert providers["m"].max_active == 1
    starts = [x.started_at - start for x in status.metric_results[0].measurements]
    assert starts == [timedelta(0), timedelta(seconds=4), timedelta(seconds=8)]


async def test_indefinite_metric_runs_until_terminated():
    clock = VirtualClock()
    factory, providers = scripted(clock, m=[1])
    run = run_of([_m(interval="1s", successCondition="result == 1")])
    engine = RunEngine(run, providers=factory, clock=clock)
    task = asyncio.ensure_future(engine.run())
    while providers["m"].calls < 20:
        await asyncio.sleep(0)
    engine.terminate()
    status = await task
    assert status.phase == "Successful"
    assert "terminated" in status.message
    assert status.metric_results[0].count >= 20


async def test_terminated_after_a_failure_stays_failed():
    clock = VirtualClock()
    factory, _ = scripted(clock, bad=[0], ok=[1])
    run = run_of([_m("bad", count=1, successCondition="result == 1"),
                  _m("ok", interval="1s")], terminate=True)
    _, status, _, _ = await _go(run, clock, factory)
    # terminate before anything measured: Successful, nothing measured
    assert status.phase == "Successful"
    run = run_of([_m("bad", count=1, successCondition="result == 1"), _m("ok", interval="1s")])
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Failed"


async def test_dry_run_metric_is_measured_but_does_not_decide():
    clock = VirtualClock()
    factory, providers = scripted(clock, real=[1], shadow=[0])
    run = run_of([_m("real", count=2, interval="1s", successCondition="result == 1"),
                  _m("shadow", count=2, interval="1s", successCondition="result == 1")],
                 dryRun=[{"metricName": "shadow"}])
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Successful"
    assert providers["shadow"].calls == 1
    shadow = next(r for r in status.metric_results if r.name == "shadow")
    assert shadow.phase == "Failed" and shadow.dry_run
    assert status.dry_run_summary.failed == 1


async def test_measurement_retention_is_honoured():
    clock = VirtualClock()
    factory, _ = scripted(clock, m=[1])
    run = run_of([_m(count=6, interval="1s")],
                 measurementRetention=[{"metricName": "m", "limit": 2}])
    _, status, _, _ = await _go(run, clock, factory)
    result = status.metric_results[0]
    assert result.count == 6 and len(result.measurements) == 2


async def test_default_retention_keeps_ten():
    clock = VirtualClock()
    factory, _ = scripted(clock, m=[1])
    _, status, _, _ = await _go(run_of([_m(count=12, interval="1s")]), clock, factory)
    assert len(status.metric_results[0].measurements) == 10


async def test_missing_arg_is_an_error_on_the_run():
    clock = VirtualClock()
    factory, providers = scripted(clock, m=[1])
    tpl = template([{"name": "m", "provider": {"prometheus": {
        "address": "http://127.0.0.1:1", "query": "up{service='{{args.service}}'}"}}}],
        args=[{"name": "service"}])
    run = build_run([tpl], {}, name="r")
    _, status, saved, _ = await _go(run, clock, factory)
    assert status.phase == "Error"
    assert "'service' has no value" in status.message
    assert providers["m"].calls == 0 and saved[-1].phase == "Error"


async def test_args_are_substituted_before_the_provider_is_built():
    clock = VirtualClock()
    built = []

    def factory(metric):
        built.append(metric)
        return scripted(clock, m=[1])[1]["m"]
    tpl = template([{"name": "m", "count": "{{args.n}}", "interval": "1s",
                     "successCondition": "result >= {{args.min}}",
                     "provider": {"prometheus": {"address": "http://{{args.host}}:9090",
                                                 "query": "up{svc='{{args.service}}'}"}}}],
                   args=[{"name": "service"}, {"name": "host", "value": "prom"},
                         {"name": "n", "value": "2"}, {"name": "min", "value": "1"}])
    run = build_run([tpl], {"service": "web-canary"}, name="r")
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Successful"
    assert built[0].provider.prometheus.query == "up{svc='web-canary'}"
    assert built[0].provider.prometheus.address == "http://prom:9090"
    assert status.metric_results[0].count == 2


async def test_secret_args_come_from_the_lookup():
    clock = VirtualClock()
    built = []

    def factory(metric):
        built.append(metric)
        return scripted(clock, m=[1])[1]["m"]
    tpl = template([{"name": "m", "provider": {"prometheus": {
        "address": "http://p", "query": "up", "headers": [
            {"key": "Authorization", "value": "Bearer {{args.token}}"}]}}}],
        args=[{"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
    run = build_run([tpl], {}, name="r")
    _, status, _, _ = await _go(run, clock, factory,
                                secrets=lambda n, k: "xyz" if (n, k) == ("s", "k") else None)
    assert status.phase == "Successful"
    assert built[0].provider.prometheus.headers[0].value == "Bearer xyz"
    _, status, _, _ = await _go(build_run([tpl], {}, name="r"), clock, factory)
    assert status.phase == "Error" and "secret 's'" in status.message


async def test_resume_continues_from_recorded_measurements():
    clock = VirtualClock()
    factory, _providers = scripted(clock, m=[1])
    run = run_of([_m(count=3, interval="1m")])
    # first process: stop after two measurements
    saved: list[AnalysisRunStatus] = []
    first = RunEngine(run, providers=factory, clock=clock, persist=saved.append)
    task = asyncio.ensure_future(first.run())

    def measured():
        results = saved[-1].metric_results if saved else None
        return results[0].count if results else 0
    while measured() < 2:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    recorded = saved[-1]  # what the operator had persisted when it stopped
    assert recorded.metric_results[0].count == 2
    last = recorded.metric_results[0].measurements[-1].finished_at
    # the operator restarts ten seconds later
    clock.advance(10)
    resumed = run.model_copy(update={"status": recorded})
    factory2, providers2 = scripted(clock, m=[1])
    status = await RunEngine(resumed, providers=factory2, clock=clock).run()
    assert status.phase == "Successful"
    assert providers2["m"].calls == 1
    assert status.metric_results[0].measurements[-1].started_at == last + timedelta(minutes=1)
    assert status.started_at == recorded.started_at


async def test_completed_run_is_not_measured_again():
    clock = VirtualClock()
    factory, providers = scripted(clock, m=[1])
    run = run_of([_m()]).model_copy(update={"status": AnalysisRunStatus(phase="Failed")})
    status = await RunEngine(run, providers=factory, clock=clock).run()
    assert status.phase == "Failed" and providers["m"].calls == 0


async def test_unknown_provider_from_a_factory_is_an_error_on_the_run():
    from rollouts.analysis.providers.base import ProviderConfigError

    def factory(metric):
        raise ProviderConfigError("unknown provider type 'datadog'")
    clock = VirtualClock()
    status = await RunEngine(run_of([_m()]), providers=factory, clock=clock).run()
    assert status.phase == "Error" and "datadog" in status.message


async def test_metrics_are_measured_independently():
    clock = VirtualClock()
    factory, providers = scripted(clock, slow=[("sleep", 30, 1)], fast=[1])
    providers["slow"].timeout = 60
    run = run_of([_m("slow", count=2, interval="1s"), _m("fast", count=20, interval="1s")])
    _, status, _, _ = await _go(run, clock, factory)
    assert status.phase == "Successful"
    assert providers["fast"].calls == 20 and providers["slow"].calls == 2


# ---- properties on the virtual clock ---------------------------------------------------




_outcome = st.sampled_from([1, 0, 5, "error", ("sleep", 7, 1), ("sleep", 30, 1)])
_metric_spec = st.fixed_dictionaries({
    "count": st.integers(min_value=1, max_value=5),
    "failureLimit": st.integers(min_value=0, max_value=2),
    "inconclusiveLimit": st.integers(min_value=0, max_value=2),
    "consecutiveErrorLimit": st.integers(min_value=0, max_value=3),
    "interval": st.sampled_from(["1s", "10s", "1m"]),
    "script": st.lists(_outcome, min_size=1, max_size=8),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_metric_spec, min_size=1, max_size=3), st.booleans())
def test_any_run_ends_decided_without_overlap(specs, dry_first):
    async def main():
        clock = VirtualClock()
        scripts = {}
        metrics = []
        for i, spec in enumerate(specs):
            script = [MeasurementError("down") if s == "error" else s for s in spec["script"]]
            scripts[f"m{i}"] = script
            fields = {k: v for k, v in spec.items() if k != "script"}
            metrics.append(_m(f"m{i}", successCondition="result == 1",
                              failureCondition="result == 0", **fields))
        factory, providers = scripted(clock, **scripts)
        for provider in providers.values():
            provider.timeout = 20
        dry = [{"metricName": "m0"}] if dry_first and len(specs) > 1 else None
        run = run_of(metrics, **({"dryRun": dry} if dry else {}))
        status = await asyncio.wait_for(
            RunEngine(run, providers=factory, clock=clock).run(), 10)
        return run, status, providers
    run, status, providers = asyncio.run(main())
    assert status.phase in ("Successful", "Failed", "Inconclusive", "Error")
    assert all(p.max_active <= 1 for p in providers.values())
    by_name = {r.name: r for r in status.metric_results or []}
    for metric_spec, name in zip(specs, sorted(providers), strict=True):
        if name in by_name:
            assert by_name[name].count <= metric_spec["count"]
    metrics = [Metric.model_validate(m) for m in run.model_dump(by_alias=True)["spec"]["metrics"]]
    final = assess_run(metrics, by_name, dry_run=run.spec.dry_run)
    assert final.phase == status.phase
