"""Tokens and their positions."""

from __future__ import annotations

import pytest

from rollouts.analysis.expr_lexer import ConditionSyntaxError, tokenize


def test_tokens_and_positions():
    tokens = tokenize("result[0] >= 0.95 && !x")
    assert [(t.kind, t.text, t.position) for t in tokens] == [
        ("name", "result", 0), ("op", "[", 6), ("number", "0", 7), ("op", "]", 8),
        ("op", ">=", 10), ("number", "0.95", 13), ("op", "&&", 18), ("op", "!", 21),
        ("name", "x", 22), ("end", "", 23)]


@pytest.mark.parametrize(("source", "value"), [
    ("1e3", 1000.0), ("1.5e-2", 0.015), ("0x1F", 31), ("1_000", 1000), ("'a\\'b'", "a'b"),
    ('"tab\\t"', "tab\t"), ("`raw\\d`", "raw\\d"), ('"\\u00e9"', "é"), ('"v\\."', "v\\."),
])
def test_literals(source, value):
    assert tokenize(source)[0].value == value


@pytest.mark.parametrize(("source", "position"), [
    ("'open", 0), ("1 @ 2", 2), ("12abc", 0), ('"bad \\q"', 5), ("x" * 5000, 4096),
])
def test_lexical_errors_carry_a_position(source, position):
    with pytest.raises(ConditionSyntaxError) as info:
        tokenize(source)
    assert info.value.position == position
