"""Evaluate a parsed condition against a measured ``result``.

Why this exists: the evaluator walks only the node types of ``expr_parser`` over
JSON-like values, so a condition can compute and compare but never reach a Python
object, attribute, module or builtin beyond the listed functions. Semantics follow
expr-lang as Argo Rollouts runs it: ``/`` is float division (1/0 is +Inf), ``==``
between different types is false, ordering different types is an error, ``&&`` and
``||`` short-circuit.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from rollouts.analysis.expr_ast import (
    Binary,
    Call,
    Closure,
    Conditional,
    Index,
    ListLiteral,
    Literal,
    MapLiteral,
    Member,
    Name,
    Node,
    Pointer,
    Slice,
    Unary,
)
from rollouts.analysis.expr_functions import (
    FUNCTIONS,
    ConditionEvaluationError,
    is_number,
    type_name,
)

__all__ = ["evaluate", "normalize"]

_MISSING = object()


def normalize(value: object, _depth: int = 0) -> Any:
    """``value`` as plain JSON-like data (tuples become lists, unknown types strings)."""
    if _depth > 64:
        raise ConditionEvaluationError("result nests too deeply")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [normalize(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): normalize(v, _depth + 1) for k, v in value.items()}
    return str(value)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ConditionEvaluationError(f"invalid regular expression {pattern!r}: {error}") from None


def _truth(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConditionEvaluationError(f"{what} needs a bool, got {type_name(value)}")
    return value


def equal(a: object, b: object) -> bool:
    if is_number(a) and is_number(b):
        return a == b
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


def _compare(op: str, a: Any, b: Any) -> bool:
    if not ((is_number(a) and is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
        raise ConditionEvaluationError(
            f"cannot compare {type_name(a)} {op} {type_name(b)} ({_show(a)} {op} {_show(b)})")
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, list) and isinstance(b, list):
            return a + b
    if not (is_number(a) and is_number(b)):
        raise ConditionEvaluationError(
            f"cannot apply {op} to {type_name(a)} and {type_name(b)}")
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            x, y = float(a), float(b)
            if y == 0:
                if x == 0 or math.isnan(x):
                    return math.nan
                return math.copysign(math.inf, x) * math.copysign(1.0, y)
            return x / y
        if op == "%":
            if not (isinstance(a, int) and isinstance(b, int)):
                raise ConditionEvaluationError("% needs integers")
            if b == 0:
                raise ConditionEvaluationError("integer divide by zero")
            return int(math.fmod(a, b)) if abs(a) < 2**53 and abs(b) < 2**53 else a - b * int(a / b)
        # ** and ^ : float power as in Go's math.Pow
        try:
            return math.pow(float(a), float(b))
        except ValueError:
            return math.nan
    except OverflowError:
        return math.inf
    raise ConditionEvaluationError(f"unknown operator {op}")  # pragma: no cover


def _index(target: Any, index: Any, optional: bool) -> Any:
    if target is None and optional:
        return None
    if isinstance(target, list | str):
        if not (isinstance(index, int) and not isinstance(index, bool)):
            if is_number(index) and float(index).is_integer():
                index = int(index)
            else:
                raise ConditionEvaluationError(
                    f"array index must be an integer, got {type_name(index)}")
        size = len(target)
        if not -size <= index < size:
            raise ConditionEvaluationError(
                f"index out of range: {index} (length {size})")
        return target[index]
    if isinstance(target, dict):
        if not isinstance(index, str):
            raise ConditionEvaluationError(f"map key must be a string, got {type_name(index)}")
        return target.get(index)
    raise ConditionEvaluationError(f"cannot index {type_name(target)} (value {_show(target)})")


def _slice(target: Any, start: Any, stop: Any) -> Any:
    if not isinstance(target, list | str):
        raise ConditionEvaluationError(f"cannot slice {type_name(target)}")
    for bound in (start, stop):
        if bound is not None and not (isinstance(bound, int) and not isinstance(bound, bool)):
            raise ConditionEvaluationError("slice bounds must be integers")
    return target[start:stop]


def _member(target: Any, name: str, optional: bool) -> Any:
    if target is None and optional:
        return None
    if isinstance(target, dict):
        return target.get(name)
    raise ConditionEvaluationError(f"cannot read field {name!r} of {type_name(target)}")


class _Evaluator:
    def __init__(self, result: Any) -> None:
        self.result = result

    def run(self, node: Node, pointer: Any = _MISSING) -> Any:
        match node:
            case Literal(value=value):
                return value
            case Name():
                return self.result
            case Pointer():
                return pointer
            case Unary(op=op, operand=operand):
                value = self.run(operand, pointer)
                if op == "!":
                    return not _truth(value, "!")
                if not is_number(value):
                    raise ConditionEvaluationError(f"unary {op} needs a number, "
                                                   f"got {type_name(value)}")
                return -value if op == "-" else value
            case Binary(op=op, left=left, right=right):
                return self.binary(op, left, right, pointer)
            case Conditional(test=test, then=then, otherwise=otherwise):
                if _truth(self.run(test, pointer), "?:"):
                    return self.run(then, pointer)
                return self.run(otherwise, pointer)
            case Index(target=target, index=index, optional=optional):
                return _index(self.run(target, pointer), self.run(index, pointer), optional)
            case Slice(target=target, start=start, stop=stop):
                return _slice(self.run(target, pointer),
                              None if start is None else self.run(start, pointer),
                              None if stop is None else self.run(stop, pointer))
            case Member(target=target, name=name, optional=optional):
                return _member(self.run(target, pointer), name, optional)
            case Call():
                return self.call(node, pointer)
            case Closure(body=body):
                return self.run(body, pointer)
            case ListLiteral(items=items):
                return [self.run(item, pointer) for item in items]
            case MapLiteral(items=pairs):
                out: dict[str, Any] = {}
                for key_node, value_node in pairs:
                    key = self.run(key_node, pointer)
                    out[key if isinstance(key, str) else str(key)] = self.run(value_node, pointer)
                return out
        raise ConditionEvaluationError("unsupported expression")  # pragma: no cover

    def binary(self, op: str, left: Node, right: Node, pointer: Any) -> Any:
        if op in ("&&", "and"):
            return _truth(self.run(left, pointer), op) and _truth(self.run(right, pointer), op)
        if op in ("||", "or"):
            return _truth(self.run(left, pointer), op) or _truth(self.run(right, pointer), op)
        if op == "??":
            value = self.lenient(left, pointer)
            return self.run(right, pointer) if value is None or value is _MISSING else value
        a = self.run(left, pointer)
        b = self.run(right, pointer)
        if op == "==":
            return equal(a, b)
        if op == "!=":
            return not equal(a, b)
        if op in ("<", ">", "<=", ">="):
            return _compare(op, a, b)
        if op in ("in", "not in"):
            return (op == "in") == self.contains_item(b, a)
        if op in ("matches", "contains", "startsWith", "endsWith"):
            if not (isinstance(a, str) and isinstance(b, str)):
                raise ConditionEvaluationError(
                    f"{op} needs strings, got {type_name(a)} and {type_name(b)}")
            if op == "matches":
                return _regex(b).search(a) is not None
            if op == "contains":
                return b in a
            return a.startswith(b) if op == "startsWith" else a.endswith(b)
        return _arith(op, a, b)

    @staticmethod
    def contains_item(container: Any, item: Any) -> bool:
        if isinstance(container, list):
            return any(equal(item, x) for x in container)
        if isinstance(container, dict):
            return isinstance(item, str) and item in container
        if isinstance(container, str) and isinstance(item, str):
            return item in container
        raise ConditionEvaluationError(f"'in' needs an array or a map, got {type_name(container)}")

    def lenient(self, node: Node, pointer: Any) -> Any:
        """A value, or ``_MISSING`` when reading it fails (index out of range, nil field)."""
        try:
            return self.run(node, pointer)
        except ConditionEvaluationError:
            return _MISSING

    def call(self, node: Call, pointer: Any) -> Any:
        name = node.name
        if name == "default":
            value = self.lenient(node.args[0], pointer)
            if value is None or value is _MISSING:
                return self.run(node.args[1], pointer)
            return value
        if name == "isNil":
            if not node.args:
                return self.result is None
            value = self.lenient(node.args[0], pointer)
            return value is None or value is _MISSING
        if name in FUNCTIONS:
            args = [self.run(arg, pointer) for arg in node.args]
            try:
                return FUNCTIONS[name].call(*args)
            except (OverflowError, ValueError, TypeError) as error:
                if isinstance(error, ConditionEvaluationError):
                    raise
                raise ConditionEvaluationError(f"{name}(): {error}") from None
        items = self.run(node.args[0], pointer)
        if isinstance(items, dict):
            items = list(items.values())
        if not isinstance(items, list):
            raise ConditionEvaluationError(f"{name}() needs an array, got {type_name(items)}")
        body = node.args[1]
        if name == "map":
            return [self.run(body, item) for item in items]
        if name == "filter":
            return [item for item in items if _truth(self.run(body, item), "filter()")]
        if name == "all":
            return all(_truth(self.run(body, item), "all()") for item in items)
        if name == "any":
            return any(_truth(self.run(body, item), "any()") for item in items)
        if name == "none":
            return not any(_truth(self.run(body, item), "none()") for item in items)
        matches = sum(1 for item in items if _truth(self.run(body, item), f"{name}()"))
        return matches == 1 if name == "one" else matches


def evaluate(node: Node, result: object) -> Any:
    """The value of ``node`` with ``result`` bound; ``ConditionEvaluationError`` if it fails."""
    try:
        return _Evaluator(normalize(result)).run(node)
    except RecursionError:  # pragma: no cover - depth is bounded by the parser
        raise ConditionEvaluationError("expression too deep to evaluate") from None
