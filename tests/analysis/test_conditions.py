"""Conditions as Argo Rollouts users write them, evaluated against realistic results."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.analysis.conditions import (
    ConditionEvaluationError,
    ConditionSyntaxError,
    check_condition,
    compile_condition,
    evaluate_condition,
)

NAN = math.nan
INF = math.inf

# (condition, result, expected)
TABLE = [
    ("result[0] >= 0.95", [0.97], True),
    ("result[0] >= 0.95", [0.90], False),
    ("result[0] < 0.05", [0.01], True),
    ("result[0] <= 0.5", [0.5], True),
    ("result[0] > 100", [100.0], False),
    ("result == 1", 1.0, True),
    ("result != 0", 0, False),
    ("result >= 0.99", 0.995, True),
    ("len(result) > 0 && result[0] < 500", [120.0], True),
    ("len(result) > 0 && result[0] < 500", [], False),
    ("len(result) == 0 || result[0] < 500", [], True),
    ("isNaN(result[0])", [NAN], True),
    ("isNaN(result[0]) || result[0] >= 0.95", [NAN], True),
    ("!isNaN(result[0]) && result[0] >= 0.95", [NAN], False),
    ("isInf(result[0])", [INF], True),
    ("isInf(result)", 3.0, False),
    ("default(result, 0) < 5", None, True),
    ("default(result, 0) < 5", 7, False),
    ("default(result[0], 0) >= 0", [], True),
    ("asInt(result) == 3", "3", True),
    ("asFloat(result) > 0.9", "0.95", True),
    ("asInt(result[0]) >= 200 && asInt(result[0]) < 300", ["204"], True),
    ("result.data.ok == true", {"data": {"ok": True}}, True),
    ("result.status == 'healthy'", {"status": "healthy"}, True),
    ('result == "true"', "true", True),
    ("result == true", True, True),
    ("result[0] >= 0.95 and result[1] >= 0.95", [0.97, 0.99], True),
    ("result[0] < 0.9 or result[1] < 0.9", [0.97, 0.99], False),
    ("not (result[0] > 1)", [0.5], True),
    ("!(result[0] > 1)", [2.0], False),
    ("all(result, {# >= 0.95})", [0.97, 0.99, 0.96], True),
    ("all(result, # >= 0.95)", [0.97, 0.90], False),
    ("any(result, {# > 0.1})", [0.0, 0.2], True),
    ("none(result, {# > 0.1})", [0.0, 0.05], True),
    ("one(result, {# > 0.5})", [0.6, 0.1], True),
    ("len(filter(result, {# > 0.5})) == 2", [0.6, 0.7, 0.1], True),
    ("count(result, {# > 0.5}) < 2", [0.6, 0.7, 0.1], False),
    ("sum(result) / len(result) > 0.9", [0.95, 0.97], True),
    ("result[0] / result[1] < 0.05", [1.0, 100.0], True),
    ("result[0] * 100 >= 95", [0.96], True),
    ("result[0] - result[1] < 0.01", [0.5, 0.495], True),
    ("result[0] % 2 == 0", [4], True),
    ("result[0] ** 2 == 4", [2], True),
    ("abs(result[0] - 1) < 0.1", [0.95], True),
    ("max(result) < 0.5", [0.1, 0.4], True),
    ("min(result) > 0", [0.1, 0.4], True),
    ("result[-1] > 0", [-1.0, 1.0], True),
    ("result matches '^v[0-9]+\\\\.'", "v2.1", True),
    ('result contains "OK"', "status: OK", True),
    ('result startsWith "2"', "204", True),
    ('result endsWith "ms"', "12ms", True),
    ("'ok' in result", ["ok", "fine"], True),
    ("'bad' not in result", ["ok", "fine"], True),
    ("'data' in result", {"data": 1}, True),
    ("result.items[0].value > 3", {"items": [{"value": 5}]}, True),
    ("result[0] > 0.5 ? true : false", [0.7], True),
    ("result?.missing == nil", {}, True),
    ("result.missing ?? 5 == 5", {}, True),
    ("isNil()", None, True),
    ("result == nil", None, True),
    ("1/0 > 1e308", 0, True),
    ("isNaN(0.0/0)", 0, True),
    ("len(result) == 3", "abc", True),
    ("result[0:2] == [1, 2]", [1, 2, 3], True),
    ("round(result) == 3", 2.5, True),
    ("floor(result[0]) == 1", [1.9], True),
    ("upper(result) == 'OK'", "ok", True),
    ("result > 1_000", 1500, True),
    ("result == 0x10", 16, True),
    ("result[0] >= 0.95 &&\n  result[0] <= 1", [0.96], True),
]


@pytest.mark.parametrize(("condition", "result", "expected"), TABLE,
                         ids=[c for c, _, _ in TABLE])
def test_conditions_users_write_evaluate_as_expected(condition, result, expected):
    assert evaluate_condition(condition, result) is expected


def test_the_table_is_large():
    assert len(TABLE) >= 40


INVALID = [
    ("result[0] >= ", 14, "expected an expression"),
    ("result[0 >= 0.95", 17, "expected ']'"),
    ("result >= 0.95 &&", 18, "expected an expression"),
    ("reslt[0] > 1", 1, "unknown name 'reslt'"),
    ("lenn(result) > 0", 1, "unknown function 'lenn'"),
    ("result[0] > 0.95)", 17, "unexpected ')'"),
    ("result = 1", 8, "unexpected character '='"),
    ("'unterminated", 1, "unterminated string"),
    ("len(result, 1) > 0", 1, "len() takes 1 argument(s), got 2"),
    ("# > 1", 1, "'#' is only allowed inside a predicate"),
    ("result matches '[a-'", 16, "invalid regular expression"),
    ("result not 1", 12, "expected 'in' after 'not'"),
    ("", 1, "empty condition"),
    ("result[0] >= 0.95 result", 19, "after a complete expression"),
    ("1.5.3 > 1", 5, "field name"),
    ("__import__('os')", 1, "unknown function '__import__'"),
    ("result.__class__", None, None),  # parses: a map key, harmless (see below)
]


@pytest.mark.parametrize(("condition", "column", "reason"), INVALID,
                         ids=[c or "<empty>" for c, _, _ in INVALID])
def test_invalid_conditions_are_reported_with_the_column(condition, column, reason):
    if column is None:
        assert check_condition(condition) is None
        return
    with pytest.raises(ConditionSyntaxError) as info:
        compile_condition(condition)
    assert info.value.position + 1 == column
    assert reason in info.value.reason
    message = check_condition(condition)
    assert message is not None and f"column {column}" in message
    assert message == f"invalid condition {condition!r}: {info.value.reason} at column {column}"


def test_dunder_fields_are_only_map_keys():
    assert evaluate_condition("result.__class__ == nil", {}) is True
    with pytest.raises(ConditionEvaluationError, match="cannot read field"):
        evaluate_condition("result.__class__ == nil", 1.0)


@pytest.mark.parametrize(("condition", "result", "fragment"), [
    ("result[0] > 0.5", [], "index out of range"),
    ("result > 'a'", 1, "cannot compare"),
    ("result[0]", [1.0], "not true or false"),
    ("result && true", 1, "needs a bool"),
    ("asInt(result) > 1", "abc", "cannot convert"),
    ("result % 0 == 1", 5, "divide by zero"),
])
def test_evaluation_errors_name_the_problem(condition, result, fragment):
    with pytest.raises(ConditionEvaluationError, match=fragment):
        evaluate_condition(condition, result)


def test_and_or_short_circuit_so_guards_work():
    assert evaluate_condition("len(result) > 0 && result[0] > 1", []) is False
    assert evaluate_condition("len(result) == 0 || result[0] > 1", []) is True


def test_deep_nesting_is_a_syntax_error_not_a_crash():
    with pytest.raises(ConditionSyntaxError, match="nests deeper"):
        compile_condition("(" * 500 + "1" + ")" * 500 + " == 1")
    with pytest.raises(ConditionSyntaxError, match="nests deeper"):
        compile_condition("result" + " + 1" * 300 + " > 0")
    with pytest.raises(ConditionSyntaxError, match="longer than"):
        compile_condition("1 == 1 && " * 1000 + "true")


def test_huge_powers_give_infinity_quickly():
    assert evaluate_condition("9 ** 9 ** 9 ** 9 > 1", 0) is True


# ---- fuzzing -------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=10,
)
_ALLOWED = (bool, int, float, str, list, dict, type(None))

_PIECES = st.sampled_from([
    "result", "[0]", "[", "]", "(", ")", "{", "}", "#", ".", "?.", "??", "&&", "||",
    "!", " not ", " and ", " or ", " in ", " matches ", " contains ", "==", "!=", "<",
    ">=", "+", "-", "*", "/", "%", "**", "?", ":", ",", "1", "0.5", "'a'", '"b"', "nil",
    "true", "len(", "all(", "default(", "isNaN(", "asInt(", "map(", "filter(", "max(",
    "__class__", "__import__(", "getattr(", "x", "1e999", "-", " ",
])


def _check_value(value):
    assert isinstance(value, _ALLOWED), type(value)
    if isinstance(value, list):
        for item in value:
            _check_value(item)
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            _check_value(item)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join), _JSON)
def test_fuzz_token_soup_never_crashes_or_leaks_objects(source, result):
    try:
        condition = compile_condition(source)
    except ConditionSyntaxError as error:
        assert 0 <= error.position <= len(source)
        return
    try:
        value = condition.matches(result)
    except ConditionEvaluationError:
        return
    assert isinstance(value, bool)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=40), _JSON)
def test_fuzz_arbitrary_text_never_crashes(source, result):
    from rollouts.analysis.expr_eval import evaluate
    try:
        condition = compile_condition(source)
    except ConditionSyntaxError as error:
        assert 0 <= error.position <= len(source)
        return
    with contextlib.suppress(ConditionEvaluationError):
        _check_value(evaluate(condition.tree, result))


ESCAPES = [
    "result.__class__.__mro__", "result.__class__.__subclasses__()", "().__class__",
    "[].__class__.__base__", "''.__class__", "len.__globals__", "{}.get('x')",
    "result['__class__']", "__builtins__", "open('/etc/passwd')", "eval('1')",
    "import os", "result.__dict__", "lambda: 1", "string(len)", "[x for x in result]",
    "result.format", "getattr(result, 'x')", "type(result)",
]


@pytest.mark.parametrize("source", ESCAPES)
@pytest.mark.parametrize("result", ["text", [1], {"k": 1}, 1.5, None])
def test_no_way_to_python_objects(source, result):
    from rollouts.analysis.expr_eval import evaluate
    try:
        condition = compile_condition(source)
    except ConditionSyntaxError:
        return
    try:
        value = evaluate(condition.tree, result)
    except ConditionEvaluationError:
        return
    _check_value(value)
    assert value is None  # only a missing map key can be read this way
