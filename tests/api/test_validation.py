"""parse_object: every invalid manifest fails, naming the field that is wrong."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from rollouts.api.analysis import (
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    selects_metric,
)
from rollouts.api.rollout import Rollout
from rollouts.api.validation import Problem, object_label, parse_object

Doc = dict[str, Any]
# pydantic's own location labels: validator wrappers and union members.
_LEAK = re.compile(r"function-|union\[|literal\[|\.(int|str|float|bool)(\.|\[|$)")


def rollout() -> Doc:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:v1"}]},
            },
            "strategy": {
                "canary": {
                    "canaryService": "web-canary",
                    "stableService": "web-stable",
                    "trafficRouting": {
                        "gatewayAPI": {"httpRoutes": [{"name": "web"}]},
                        "managedRoutes": [{"name": "header"}, {"name": "mirror"}],
                    },
                    "steps": [
                        {"setWeight": 10},
                        {"pause": {"duration": "30s"}},
                        {"analysis": {"templates": [{"templateName": "success-rate"}]}},
                        {"setHeaderRoute": {"name": "header", "match": [
                            {"headerName": "X-Canary", "headerValue": {"exact": "yes"}}]}},
                        {"setWeight": 50},
                    ],
                }
            },
        },
    }


def template(kind: str = "AnalysisTemplate") -> Doc:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "success-rate"},
        "spec": {
            "args": [{"name": "service"}],
            "metrics": [{
                "name": "success-rate",
                "interval": "10s",
                "count": 3,
                "successCondition": "result >= 0.95",
                "provider": {"prometheus": {
                    "address": "http://prometheus:9090",
                    "query": "sum(rate(x[1m]))",
                }},
            }],
        },
    }


def canary(doc: Doc) -> Doc:
    result: Doc = doc["spec"]["strategy"]["canary"]
    return result


def steps(doc: Doc) -> list[Doc]:
    result: list[Doc] = canary(doc)["steps"]
    return result


def metric(doc: Doc) -> Doc:
    result: Doc = doc["spec"]["metrics"][0]
    return result


def _set(path: list[str | int], value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return apply


def _del(path: list[str | int]) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return apply


C: list[str | int] = ["spec", "strategy", "canary"]
S: list[str | int] = [*C, "steps"]
M: list[str | int] = ["spec", "metrics", 0]

# (id, base factory, mutation, expected field path, words expected in the message)
CASES: list[tuple[str, Callable[[], Doc], Callable[[Doc], object], str, str]] = [
    ("unknown-field", rollout, _set([*C, "stepz"], []),
     "spec.strategy.canary.stepz", 'unknown field "stepz"'),
    ("unknown-field-in-step", rollout, _set([*S, 0, "weight"], 5),
     "spec.strategy.canary.steps[0].weight", "unknown field"),
    ("replicas-string", rollout, _set(["spec", "replicas"], "3"),
     "spec.replicas", "valid integer"),
    ("replicas-negative", rollout, _set(["spec", "replicas"], -1),
     "spec.replicas", "greater than or equal to 0"),
    ("weight-over-100", rollout, _set([*S, 0, "setWeight"], 150),
     "spec.strategy.canary.steps[0].setWeight", "less than or equal to 100"),
    ("weight-over-max-traffic", rollout,
     _set([*C, "trafficRouting", "maxTrafficWeight"], 40),
     "spec.strategy.canary.steps[4].setWeight", "exceeds maxTrafficWeight 40"),
    ("two-fields-in-a-step", rollout, _set([*S, 0, "pause"], {}),
     "spec.strategy.canary.steps[0]", "exactly one"),
    ("empty-step", rollout, _set([*S, 0], {}),
     "spec.strategy.canary.steps[0]", "exactly one"),
    ("bad-duration", rollout, _set([*S, 1, "pause", "duration"], "5 minutes"),
     "spec.strategy.canary.steps[1].pause.duration", "invalid duration"),
    ("float-duration", rollout, _set([*S, 1, "pause", "duration"], 1.5),
     "spec.strategy.canary.steps[1].pause.duration", "integer or a valid string"),
    ("no-selector", rollout, _del(["spec", "selector"]),
     "spec.selector", "required"),
    ("selector-mismatch", rollout, _set(["spec", "selector", "matchLabels"], {"app": "api"}),
     "spec.template.metadata.labels", "app=api"),
    ("template-and-workload", rollout,
     _set(["spec", "workloadRef"], {"name": "web"}), "spec.workloadRef", "mutually exclusive"),
    ("no-template-nor-workload", rollout, _del(["spec", "template"]),
     "spec.template", "one of template or workloadRef"),
    ("bad-scale-down", rollout, lambda d: (d["spec"].pop("template"), d["spec"].__setitem__(
        "workloadRef", {"name": "web", "scaleDown": "sometimes"})),
     "spec.workloadRef.scaleDown", "'never', 'onsuccess' or 'progressively'"),
    ("no-canary-strategy", rollout, _set(["spec", "strategy"], {}),
     "spec.strategy.canary", "required"),
    ("no-canary-service", rollout, _del([*C, "canaryService"]),
     "spec.strategy.canary.canaryService", "required when trafficRouting"),
    ("no-stable-service", rollout, _del([*C, "stableService"]),
     "spec.strategy.canary.stableService", "required when trafficRouting"),
    ("same-services", rollout, _set([*C, "canaryService"], "web-stable"),
     "spec.strategy.canary.canaryService", "must differ"),
    ("no-routes", rollout, _set([*C, "trafficRouting", "gatewayAPI"], {}),
     "spec.strategy.canary.trafficRouting.gatewayAPI", "httpRoutes, grpcRoutes"),
    ("duplicate-managed-route", rollout,
     _set([*C, "trafficRouting", "managedRoutes"], [{"name": "header"}, {"name": "header"}]),
     "spec.strategy.canary.trafficRouting.managedRoutes", "duplicate route name 'header'"),
    ("unmanaged-header-route", rollout, _set([*S, 3, "setHeaderRoute", "name"], "other"),
     "spec.strategy.canary.steps[3].setHeaderRoute.name", "managedRoutes"),
    ("header-match-two-kinds", rollout,
     _set([*S, 3, "setHeaderRoute", "match", 0, "headerValue"], {"exact": "a", "prefix": "b"}),
     "spec.strategy.canary.steps[3].setHeaderRoute.match[0].headerValue", "exactly one"),
    ("header-match-bad-regex", rollout,
     _set([*S, 3, "setHeaderRoute", "match", 0, "headerValue"], {"regex": "(unclosed"}),
     "spec.strategy.canary.steps[3].setHeaderRoute.match[0].headerValue.regex",
     "invalid regular expression"),
    ("mirror-percentage-over-100", rollout,
     _set([*S, 3], {"setMirrorRoute": {"name": "mirror", "percentage": 101}}),
     "spec.strategy.canary.steps[3].setMirrorRoute.percentage", "less than or equal to 100"),
    ("steps-after-full-weight", rollout, _set([*S, 0, "setWeight"], 100),
     "spec.strategy.canary.steps[1]", "never run"),
    ("analysis-without-templates", rollout, _set([*S, 2, "analysis", "templates"], []),
     "spec.strategy.canary.steps[2].analysis.templates", "at least 1 item"),
    ("analysis-arg-value-and-value-from", rollout,
     _set([*S, 2, "analysis", "args"], [{"name": "a", "value": "x", "valueFrom": {
         "podTemplateHashValue": "Latest"}}]),
     "spec.strategy.canary.steps[2].analysis.args[0]", "exactly one of value, valueFrom"),
    ("bad-pod-hash-source", rollout,
     _set([*S, 2, "analysis", "args"], [{"name": "a", "valueFrom": {
         "podTemplateHashValue": "Newest"}}]),
     "spec.strategy.canary.steps[2].analysis.args[0].valueFrom.podTemplateHashValue",
     "'Stable' or 'Latest'"),
    ("starting-step-past-the-end", rollout,
     _set([*C, "analysis"], {"templates": [{"templateName": "t"}], "startingStep": 9}),
     "spec.strategy.canary.analysis.startingStep", "past the last step"),
    ("max-surge-garbage", rollout, _set([*C, "maxSurge"], "lots"),
     "spec.strategy.canary.maxSurge", "percentage"),
    ("max-surge-float", rollout, _set([*C, "maxSurge"], 0.5),
     "spec.strategy.canary.maxSurge", "valid integer or a valid string"),
    ("no-surge-no-unavailable", rollout,
     lambda d: canary(d).update(maxSurge=0, maxUnavailable="0%"),
     "spec.strategy.canary.maxUnavailable", "cannot both be 0"),
    ("dynamic-stable-scale-with-delay", rollout,
     lambda d: canary(d).update(dynamicStableScale=True, scaleDownDelaySeconds=10),
     "spec.strategy.canary.dynamicStableScale", "mutually exclusive"),
    ("canary-scale-without-routing", rollout,
     lambda d: (canary(d).pop("trafficRouting"), steps(d).__setitem__(
         3, {"setCanaryScale": {"replicas": 1}})),
     "spec.strategy.canary.steps[3].setCanaryScale", "requires trafficRouting"),
    ("canary-scale-two-fields", rollout,
     _set([*S, 3], {"setCanaryScale": {"replicas": 1, "weight": 10}}),
     "spec.strategy.canary.steps[3].setCanaryScale", "exactly one of replicas"),
    ("no-name", rollout, _set(["metadata"], {"namespace": "shop"}),
     "metadata.name", "required"),
    ("unknown-metadata-field", rollout, _set(["metadata", "label"], {"a": "b"}),
     "metadata.label", "unknown field"),
    ("wrong-api-version", rollout, _set(["apiVersion"], "argoproj.io/v1alpha1"),
     "apiVersion", "rollouts.dev/v1alpha1"),
    ("no-spec", rollout, _del(["spec"]), "spec", "required"),
    # analysis templates and runs
    ("no-metrics", template, _set(["spec", "metrics"], []),
     "spec.metrics", "at least 1 item"),
    ("two-providers", template,
     _set([*M, "provider", "web"], {"url": "http://x"}),
     "spec.metrics[0].provider", "exactly one provider"),
    ("no-provider", template, _del([*M, "provider"]),
     "spec.metrics[0].provider", "required"),
    ("empty-provider", template, _set([*M, "provider"], {}),
     "spec.metrics[0].provider", "exactly one provider"),
    ("count-without-interval", template, _del([*M, "interval"]),
     "spec.metrics[0].interval", "required when count"),
    ("bad-interval", template, _set([*M, "interval"], "10 s"),
     "spec.metrics[0].interval", "invalid duration"),
    ("duplicate-metrics", template, lambda d: d["spec"]["metrics"].append(
        copy.deepcopy(metric(d))),
     "spec.metrics", "duplicate metric name 'success-rate'"),
    ("duplicate-args", template, _set(["spec", "args"], [{"name": "a"}, {"name": "a"}]),
     "spec.args", "duplicate argument name 'a'"),
    ("dry-run-unknown-metric", template, _set(["spec", "dryRun"], [{"metricName": "latency"}]),
     "spec.dryRun[0].metricName", "no metric named 'latency'"),
    ("web-bad-method", template,
     _set([*M, "provider"], {"web": {"url": "http://x", "method": "PATCH"}}),
     "spec.metrics[0].provider.web.method", "'GET', 'POST' or 'PUT'"),
    ("gateway-bad-stat", template,
     _set([*M, "provider"], {"gateway": {"address": "http://gw", "service": "s",
                                         "stat": "errors"}}),
     "spec.metrics[0].provider.gateway.stat", "success-rate"),
    ("prometheus-typo", template, _set([*M, "provider", "prometheus", "querry"], "x"),
     "spec.metrics[0].provider.prometheus.querry", 'unknown field "querry"'),
    ("prometheus-missing-query", template, _del([*M, "provider", "prometheus", "query"]),
     "spec.metrics[0].provider.prometheus.query", "required"),
    ("failure-limit-garbage", template, _set([*M, "failureLimit"], "some"),
     "spec.metrics[0].failureLimit", "invalid value 'some'"),
    ("cluster-template-arg-both", lambda: template("ClusterAnalysisTemplate"),
     _set(["spec", "args"], [{"name": "a", "value": "1", "valueFrom": {
         "secretKeyRef": {"name": "s", "key": "k"}}}]),
     "spec.args[0]", "mutually exclusive"),
    ("run-terminate-not-bool", lambda: template("AnalysisRun"),
     _set(["spec", "terminate"], "yes"),
     "spec.terminate", "valid boolean"),
    ("run-bad-status-phase", lambda: template("AnalysisRun"),
     _set(["status"], {"phase": "Done"}),
     "status.phase", "'Pending'"),
]


def test_the_valid_bases_are_valid() -> None:
    """Each failing case below differs from a valid manifest by its one mutation."""
    model, problems = parse_object(rollout())
    assert problems == [] and isinstance(model, Rollout)
    for kind, cls in (("AnalysisTemplate", AnalysisTemplate),
                      ("ClusterAnalysisTemplate", ClusterAnalysisTemplate),
                      ("AnalysisRun", AnalysisRun)):
        model, problems = parse_object(template(kind))
        assert problems == [] and isinstance(model, cls)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("base", "mutate", "path", "words"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_invalid_manifest_names_the_field(
    base: Callable[[], Doc], mutate: Callable[[Doc], object], path: str, words: str
) -> None:
    doc = base()
    mutate(doc)
    _, problems = parse_object(doc)
    assert problems, "expected a problem"
    paths = [p.path for p in problems]
    assert path in paths, problems
    message = next(p.message for p in problems if p.path == path)
    assert words in message, problems
    # No pydantic internals leak into what the user reads.
    for problem in problems:
        assert not _LEAK.search(problem.path), problem


def test_several_problems_are_reported_at_once() -> None:
    doc = rollout()
    canary(doc)["stepz"] = []
    doc["spec"]["replicas"] = "three"
    steps(doc)[0]["setWeight"] = 150
    steps(doc)[3]["setHeaderRoute"]["name"] = "unknown-route"
    canary(doc)["canaryService"] = "web-stable"
    model, problems = parse_object(doc)
    assert model is None
    assert {p.path for p in problems} == {
        "spec.strategy.canary.stepz",
        "spec.replicas",
        "spec.strategy.canary.steps[0].setWeight",
        "spec.strategy.canary.steps[3].setHeaderRoute.name",
        "spec.strategy.canary.canaryService",
    }


def test_a_schema_error_does_not_bring_misleading_follow_up_problems() -> None:
    """setWeight "10" is one problem, not also "a step sets exactly one of ..."."""
    doc = rollout()
    steps(doc)[0]["setWeight"] = "10"
    _, problems = parse_object(doc)
    assert problems == [Problem("spec.strategy.canary.steps[0].setWeight",
                                "Input should be a valid number")]


def test_union_errors_are_one_problem_at_the_field() -> None:
    doc = rollout()
    canary(doc)["maxSurge"] = [1]
    _, problems = parse_object(doc)
    assert problems == [Problem("spec.strategy.canary.maxSurge",
                                "Input should be a valid integer or a valid string")]


def test_unknown_kind_and_non_mapping() -> None:
    assert parse_object({"apiVersion": "rollouts.dev/v1alpha1", "kind": "Experiment"})[1][
        0].path == "kind"
    assert parse_object(["not", "a", "mapping"])[1] == [
        Problem("", "a manifest must be a mapping")]


def test_problem_and_label_text() -> None:
    assert str(Problem("spec.replicas", "bad")) == "spec.replicas: bad"
    assert str(Problem("", "bad")) == "bad"
    assert object_label(rollout()) == "Rollout shop/web"
    assert object_label(template()) == "AnalysisTemplate success-rate"
    assert object_label({}) == "<no kind> <unnamed>"


def test_metric_name_patterns_select_as_the_engine_does() -> None:
    """dryRun/measurementRetention metricName: a name, ``*`` or a whole-name regex; one
    rule for validation (rollouts.api) and the engine (rollouts.analysis.assess)."""
    assert selects_metric("*", "latency") and selects_metric("latency", "latency")
    assert selects_metric("lat.*", "latency") and not selects_metric("lat", "latency")
    assert not selects_metric("(", "latency")  # an invalid regex selects nothing
    doc = template()
    doc["spec"]["dryRun"] = [{"metricName": "success-.*"}, {"metricName": "("}]
    _, problems = parse_object(doc)
    assert [str(p) for p in problems] == ["spec.dryRun[1].metricName: no metric named '('"]
