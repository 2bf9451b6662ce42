"""Conditions over ``result``: compile once, check at validation time, evaluate per measurement.

Why this exists: one small facade over the lexer, parser and evaluator, used by the
assessment (is this measurement Successful?), by template validation (does every
condition parse? with its column) and by ``rollouts lint``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rollouts.analysis.expr_ast import Node
from rollouts.analysis.expr_eval import evaluate
from rollouts.analysis.expr_functions import ConditionEvaluationError, type_name
from rollouts.analysis.expr_lexer import ConditionSyntaxError
from rollouts.analysis.expr_parser import parse

__all__ = [
    "Condition",
    "ConditionEvaluationError",
    "ConditionSyntaxError",
    "check_condition",
    "compile_condition",
    "evaluate_condition",
]


@dataclass(frozen=True)
class Condition:
    """A parsed condition; ``matches(result)`` is True, False or raises."""

    source: str
    tree: Node

    def matches(self, result: object) -> bool:
        value = evaluate(self.tree, result)
        if not isinstance(value, bool):
            raise ConditionEvaluationError(
                f"condition {self.source!r} gave {type_name(value)} {value!r}, not true or false")
        return value


@lru_cache(maxsize=512)
def compile_condition(source: str) -> Condition:
    """Parse ``source``; raises ``ConditionSyntaxError`` (with ``position``) if it is invalid."""
    return Condition(source, parse(source))


def evaluate_condition(source: str, result: object) -> bool:
    """Whether ``source`` holds for ``result`` (raises on syntax or evaluation errors)."""
    return compile_condition(source).matches(result)


def check_condition(source: str) -> str | None:
    """A one-line description of what is wrong with ``source``, or None if it parses."""
    try:
        compile_condition(source)
    except ConditionSyntaxError as error:
        return f"invalid condition {source!r}: {error}"
    return None
