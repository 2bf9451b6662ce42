"""Evaluation semantics that differ from Python's."""

from __future__ import annotations

import math

import pytest

from rollouts.analysis.expr_eval import evaluate, normalize
from rollouts.analysis.expr_functions import ConditionEvaluationError
from rollouts.analysis.expr_parser import parse


def run(source: str, result: object = None) -> object:
    return evaluate(parse(source), result)


def test_division_is_float_and_by_zero_is_ieee():
    assert run("7 / 2") == 3.5
    assert run("1 / 0") == math.inf
    assert run("-1 / 0") == -math.inf
    assert math.isnan(run("0 / 0"))


def test_equality_across_types_is_false_not_an_error():
    assert run("1 == 1.0") is True
    assert run("'1' == 1") is False
    assert run("true == 1") is False
    assert run("[1, 'a'] == [1.0, 'a']") is True


def test_ordering_across_types_is_an_error():
    with pytest.raises(ConditionEvaluationError, match="cannot compare string < int"):
        run("'a' < 1")


def test_nan_compares_false():
    assert run("result > 0.5", math.nan) is False
    assert run("result < 0.5", math.nan) is False


def test_negative_base_fractional_power_is_nan_not_complex():
    assert math.isnan(run("(-8) ** 0.5"))


def test_result_is_normalized_to_json_like_values():
    assert normalize((1, {"k": (2,)})) == [1, {"k": [2]}]
    assert normalize(object()).startswith("<object")
    assert run("result[0] == 'x'", ("x",)) is True


def test_predicates_see_elements_and_fields():
    data = [{"code": 500, "n": 3}, {"code": 200, "n": 97}]
    assert run("sum(map(filter(result, {.code >= 500}), {.n})) == 3", data) is True
    assert run("any(result, #.code == 200)", data) is True


def test_strings():
    assert run("'ab' + 'cd' == 'abcd'") is True
    assert run("result matches '^5..$'", "503") is True
    with pytest.raises(ConditionEvaluationError, match="matches needs strings"):
        run("result matches 'x'", 5)
