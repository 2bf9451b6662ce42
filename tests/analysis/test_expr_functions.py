"""Builtin functions with Argo's meanings."""

from __future__ import annotations

import math

import pytest

from rollouts.analysis.expr_functions import FUNCTIONS, ConditionEvaluationError


def call(name, *args):
    return FUNCTIONS[name].call(*args)


def test_argo_helpers():
    assert call("asInt", "42") == 42 and call("asInt", 3.9) == 3
    assert call("asFloat", "0.5") == 0.5
    assert call("isNaN", math.nan) and not call("isNaN", 1.0)
    assert call("isInf", -math.inf) and call("isInf", math.inf, 1)
    assert not call("isInf", -math.inf, 1)
    assert call("default", None, 0) == 0 and call("default", 5, 0) == 5


@pytest.mark.parametrize(("name", "args"), [
    ("asInt", ("x",)), ("asInt", (math.nan,)), ("asFloat", (True,)), ("len", (5,)),
    ("max", ([],)), ("isNaN", ("a",)), ("upper", (1,)), ("sum", (["a"],)),
])
def test_bad_arguments_raise_evaluation_errors(name, args):
    with pytest.raises(ConditionEvaluationError):
        call(name, *args)


def test_aggregates():
    assert call("max", [1, 5, 2]) == 5 and call("min", 3, 1) == 1
    assert call("mean", [1, 2, 3]) == 2.0 and call("median", [1, 9, 3]) == 3
    assert call("first", []) is None and call("last", [1, 2]) == 2
    assert call("round", -2.5) == -3.0
