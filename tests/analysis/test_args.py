"""Merging templates into a run and resolving its args."""

from __future__ import annotations

import pytest

from rollouts.analysis.args import (
    ArgumentError,
    build_run,
    field_path_value,
    merge_templates,
    resolve_args,
    resolve_metrics,
    rollout_args,
    substitute,
)
from rollouts.api.analysis import Argument
from rollouts.api.rollout import AnalysisRunArgument, Rollout

from .conftest import template


def _prom(query: str, name: str = "m") -> dict:
    return {"name": name, "provider": {"prometheus": {"address": "http://p", "query": query}}}


def test_merge_concatenates_metrics_and_shares_args():
    a = template([_prom("a", "a")], name="a", args=[{"name": "service"}],
                 dryRun=[{"metricName": "a"}])
    b = template([_prom("b", "b")], name="b", args=[{"name": "service", "value": "web"}])
    spec = merge_templates([a, b])
    assert [m.name for m in spec.metrics] == ["a", "b"]
    assert spec.args == [Argument(name="service", value="web")]
    assert spec.dry_run[0].metric_name == "a"


def test_merge_conflicts_are_errors():
    a = template([_prom("a", "a")], name="a", args=[{"name": "s", "value": "x"}])
    b = template([_prom("b", "b")], name="b", args=[{"name": "s", "value": "y"}])
    with pytest.raises(ArgumentError, match="'s' is given different values"):
        merge_templates([a, b])
    with pytest.raises(ArgumentError, match="metric 'a' is defined by more than one"):
        merge_templates([a, template([_prom("x", "a")], name="c")])


def test_build_run_records_conflicts_on_the_run_instead_of_raising():
    a = template([_prom("a", "a")], name="a")
    run = build_run([a, a], {}, name="r")
    assert run.status.phase == "Error" and "more than one template" in run.status.message


def test_given_args_override_template_values():
    tpl = template([_prom("up{s='{{args.s}}'}")], args=[{"name": "s", "value": "default"}])
    run = build_run([tpl], {"s": "given", "unused": "x"}, name="r", namespace="ns")
    assert run.metadata.namespace == "ns"
    assert resolve_metrics(run)[0].provider.prometheus.query == "up{s='given'}"


def test_substitute_reports_unknown_and_undeclared_placeholders():
    assert substitute({"q": ["{{ args.a }}-{{args.a}}"]}, {"a": "1"}) == {"q": ["1-1"]}
    with pytest.raises(ArgumentError, match="argument 'b' is used but not declared"):
        substitute("{{args.b}}", {"a": "1"}, "query")
    with pytest.raises(ArgumentError, match="unknown placeholder"):
        substitute("{{workflow.name}}", {}, "query")


def test_resolve_args_errors_name_the_arg():
    with pytest.raises(ArgumentError, match="'service' has no value"):
        resolve_args([Argument(name="service")])
    ref = Argument.model_validate({"name": "tok", "valueFrom": {
        "secretKeyRef": {"name": "s", "key": "k"}}})
    with pytest.raises(ArgumentError, match="secret 's' has no key 'k'"):
        resolve_args([ref], secrets=lambda n, k: None)
    assert resolve_args([ref], secrets=lambda n, k: "v") == {"tok": "v"}
    field = Argument.model_validate({"name": "app", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.labels['app']"}}})
    assert resolve_args([field], document={"metadata": {"labels": {"app": "web"}}}) == {
        "app": "web"}


def test_field_paths():
    doc = {"metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "shop"}},
           "spec": {"items": [{"x": 1}]}, "status": {"stableRS": "abc"}}
    assert field_path_value(doc, "metadata.name") == "web"
    assert field_path_value(doc, "metadata.labels['app.kubernetes.io/name']") == "shop"
    assert field_path_value(doc, "spec.items[0].x") == "1"
    assert field_path_value(doc, "status.stableRS") == "abc"
    with pytest.raises(ArgumentError, match="has no value"):
        field_path_value(doc, "status.nothing")


def _rollout(status: dict | None = None) -> Rollout:
    body = {"apiVersion": "rollouts.dev/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}},
                     "strategy": {"canary": {}}}}
    if status:
        body["status"] = status
    return Rollout.model_validate(body)


def test_rollout_args_resolve_pod_template_hashes_and_field_refs():
    rollout = _rollout({"currentPodHash": "new123", "stableRS": "old456"})
    args = [AnalysisRunArgument.model_validate(a) for a in (
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        {"name": "ns", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "plain", "value": "x"},
    )]
    values = {a.name: a.value for a in rollout_args(rollout, args)}
    assert values == {"canary-hash": "new123", "stable-hash": "old456", "ns": "shop",
                      "plain": "x"}
    with pytest.raises(ArgumentError, match="no Stable pod-template hash"):
        rollout_args(_rollout(), args[1:2])


def test_invalid_metric_after_substitution_is_an_argument_error():
    tpl = template([{**_prom("up"), "count": "{{args.n}}"}], args=[{"name": "n"}])
    run = build_run([tpl], {"n": "many"}, name="r")
    with pytest.raises(ArgumentError, match="invalid after substituting"):
        resolve_metrics(run)


def test_rollout_step_dry_run_and_retention_are_added():
    from rollouts.api.rollout import DryRun, MeasurementRetention
    tpl = template([_prom("a", "a"), _prom("b", "b")], dryRun=[{"metricName": "a"}])
    run = build_run([tpl], {}, name="r", dry_run=[DryRun(metric_name="b")],
                    measurement_retention=[MeasurementRetention(metric_name="a", limit=3)])
    assert [d.metric_name for d in run.spec.dry_run] == ["a", "b"]
    assert run.spec.measurement_retention[0].limit == 3
