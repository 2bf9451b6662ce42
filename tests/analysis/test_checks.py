"""Template checks used by validation and ``rollouts lint``."""

from __future__ import annotations

from rollouts.analysis.checks import condition_problem, template_problems

from .conftest import template


def _metric(**fields):
    return {"name": "m", "provider": {"prometheus": {"address": "http://p",
                                                      "query": "up{s='{{args.s}}'}"}}, **fields}


def test_bad_condition_is_reported_with_path_and_column():
    tpl = template([_metric(successCondition="result[0] >= ", failureCondition="result < 1")],
                   args=[{"name": "s"}])
    problems = template_problems(tpl)
    assert [p.path for p in problems] == ["spec.metrics[0].successCondition"]
    assert "column 14" in problems[0].message
    assert problems[0].message == (
        "invalid condition: expected an expression, found end of input at column 14 "
        "of 'result[0] >= '")


def test_placeholders_in_conditions_are_allowed_and_columns_stay_right():
    assert condition_problem("result[0] >= {{args.min}}") is None
    message = condition_problem("result[0] >= {{args.min}} &&")
    assert message is not None and "column 29" in message


def test_undeclared_and_unknown_placeholders():
    tpl = template([_metric()])
    problems = template_problems(tpl)
    assert any("'s' is not declared" in p.message for p in problems)
    assert [str(p) for p in problems] == [
        "spec.metrics[0]: {{args.s}} is used but 's' is not declared in spec.args"]
    tpl = template([{"name": "m", "provider": {"web": {"url": "http://{{host}}"}}}])
    assert any("unknown placeholder {{host}}" in p.message for p in template_problems(tpl))
    assert [str(p) for p in template_problems(tpl)] == [
        "spec.metrics[0]: unknown placeholder {{host}}: only {{args.NAME}} is supported"]


def test_clean_template_has_no_problems_and_other_objects_are_ignored():
    tpl = template([_metric(successCondition="result[0] >= {{args.min}}")],
                   args=[{"name": "s"}, {"name": "min", "value": "0.9"}])
    assert template_problems(tpl) == []
    assert template_problems(object()) == []


def test_empty_condition_is_a_problem():
    tpl = template([_metric(successCondition="  ")], args=[{"name": "s"}])
    assert template_problems(tpl)[0].message == "must not be empty"


def test_zero_interval_is_a_problem():
    tpl = template([_metric(interval="0s")], args=[{"name": "s"}])
    assert [(p.path, p.message) for p in template_problems(tpl)] == [
        ("spec.metrics[0].interval", "must be longer than 0s")]
    tpl = template([_metric(interval="{{args.s}}")], args=[{"name": "s"}])
    assert template_problems(tpl) == []
