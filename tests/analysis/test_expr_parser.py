"""Precedence and structure of parsed conditions."""

from __future__ import annotations

import pytest

from rollouts.analysis.expr_ast import Binary, Call, Closure, Index, Name
from rollouts.analysis.expr_eval import evaluate
from rollouts.analysis.expr_lexer import ConditionSyntaxError
from rollouts.analysis.expr_parser import parse


def value(source: str, result: object = None) -> object:
    return evaluate(parse(source), result)


def test_tree_shape():
    tree = parse("result[0] >= 0.95")
    assert isinstance(tree, Binary) and tree.op == ">="
    assert isinstance(tree.left, Index) and isinstance(tree.left.target, Name)
    call = parse("all(result, {# > 0})")
    assert isinstance(call, Call) and isinstance(call.args[1], Closure)


@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("2 ** 3 ** 2", 512.0),
    ("-2 ** 2", -4.0),
    ("10 - 4 - 3", 3),
    ("true || false && false", True),
    ("not true == false", True),
    ("1 < 2 == true", True),
    ("1 > 2 ? 'a' : 2 > 1 ? 'b' : 'c'", "b"),
    ("nil ?? 3", 3),
    ("[1, 2, 3][1]", 2),
    ("{a: 1, 'b': 2}.b", 2),
])
def test_precedence(source, expected):
    assert value(source) == expected


def test_keyword_spellings_match_symbol_spellings():
    assert value("true and not false or false") == value("true && !false || false")


@pytest.mark.parametrize("source", ["result[", "(1", "1 +", "f(1)", "all(result)",
                                    "{1 2}", "result.", "not", "[1,,2]"])
def test_syntax_errors(source):
    with pytest.raises(ConditionSyntaxError):
        parse(source)
