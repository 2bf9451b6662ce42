"""The builtin functions conditions may call, and the value rules they share.

Why this exists: Argo Rollouts adds ``isNaN``, ``isInf``, ``isNil``, ``default``,
``asInt`` and ``asFloat`` to expr-lang's builtins (``len``, ``abs``, ``max`` ...);
users' templates call them, so they are here with the same meaning. Values are only
JSON-like Python values (None, bool, int, float, str, list, dict): no function can
return or reach anything else.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLOSURE_FUNCTIONS",
    "FUNCTIONS",
    "ConditionEvaluationError",
    "Function",
    "is_number",
    "type_name",
]


class ConditionEvaluationError(ValueError):
    """A condition that parsed but cannot be evaluated against this ``result``."""


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_name(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    return "unknown"


@dataclass(frozen=True, slots=True)
class Function:
    arity: tuple[int, int]
    call: Callable[..., Any]


def _need_number(name: str, value: object) -> float | int:
    if not is_number(value):
        raise ConditionEvaluationError(f"{name}() needs a number, got {type_name(value)}")
    assert isinstance(value, int | float)
    return value


def _need_list(name: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ConditionEvaluationError(f"{name}() needs an array, got {type_name(value)}")
    return value


def _len(value: object) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise ConditionEvaluationError(f"len() needs a string, array or map, got {type_name(value)}")


def _as_int(value: object) -> int:
    if isinstance(value, bool):
        raise ConditionEvaluationError("asInt() needs a number or a numeric string, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ConditionEvaluationError(f"asInt() cannot convert {value}")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ConditionEvaluationError(f"asInt() cannot convert {value!r}") from None
    raise ConditionEvaluationError(f"asInt() needs a number or a string, got {type_name(value)}")


def _as_float(value: object) -> float:
    if isinstance(value, bool):
        raise ConditionEvaluationError("asFloat() needs a number or a numeric string, got bool")
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ConditionEvaluationError(f"asFloat() cannot convert {value!r}") from None
    raise ConditionEvaluationError(f"asFloat() needs a number or a string, got {type_name(value)}")


def _is_nan(value: object) -> bool:
    number = _need_number("isNaN", value)
    return isinstance(number, float) and math.isnan(number)


def _is_inf(value: object, sign: object = 0) -> bool:
    number = _need_number("isInf", value)
    if not isinstance(number, float) or not math.isinf(number):
        return False
    direction = _need_number("isInf", sign)
    return direction == 0 or (direction > 0) == (number > 0)


def _string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def _to_int(value: object) -> int:
    if isinstance(value, str):
        try:
            return int(float(value.strip())) if "." in value else int(value.strip())
        except ValueError:
            raise ConditionEvaluationError(f"int() cannot convert {value!r}") from None
    return _as_int(value)


def _numbers(name: str, args: tuple[object, ...]) -> list[float | int]:
    items: list[object] = list(args)
    if len(items) == 1 and isinstance(items[0], list):
        items = list(items[0])
    if not items:
        raise ConditionEvaluationError(f"{name}() of an empty array")
    return [_need_number(name, item) for item in items]


def _round(value: object) -> float:
    number = _need_number("round", value)
    if isinstance(number, float) and (math.isnan(number) or math.isinf(number)):
        return number
    # Go's math.Round: half away from zero
    return float(math.floor(abs(number) + 0.5) * (1 if number >= 0 else -1))


def _finite_op(name: str, fn: Callable[[float], float]) -> Callable[[object], float]:
    def apply(value: object) -> float:
        number = float(_need_number(name, value))
        if math.isnan(number) or math.isinf(number):
            return number
        return float(fn(number))
    return apply


def _first(value: object) -> object:
    items = _need_list("first", value)
    return items[0] if items else None


def _last(value: object) -> object:
    items = _need_list("last", value)
    return items[-1] if items else None


def _str_fn(name: str, fn: Callable[[str], str]) -> Callable[[object], str]:
    def apply(value: object) -> str:
        if not isinstance(value, str):
            raise ConditionEvaluationError(f"{name}() needs a string, got {type_name(value)}")
        return fn(value)
    return apply


FUNCTIONS: dict[str, Function] = {
    "len": Function((1, 1), _len),
    "abs": Function((1, 1), lambda v: abs(_need_number("abs", v))),
    "asInt": Function((1, 1), _as_int),
    "asFloat": Function((1, 1), _as_float),
    "int": Function((1, 1), _to_int),
    "float": Function((1, 1), _as_float),
    "string": Function((1, 1), _string),
    "isNaN": Function((1, 1), _is_nan),
    "isInf": Function((1, 2), _is_inf),
    "max": Function((1, 64), lambda *a: max(_numbers("max", a))),
    "min": Function((1, 64), lambda *a: min(_numbers("min", a))),
    "sum": Function((1, 1), lambda v: sum(_need_number("sum", x) for x in _need_list("sum", v))),
    "mean": Function((1, 64), lambda *a: statistics.fmean(_numbers("mean", a))),
    "median": Function((1, 64), lambda *a: statistics.median(_numbers("median", a))),
    "first": Function((1, 1), _first),
    "last": Function((1, 1), _last),
    "round": Function((1, 1), _round),
    "floor": Function((1, 1), _finite_op("floor", math.floor)),
    "ceil": Function((1, 1), _finite_op("ceil", math.ceil)),
    "upper": Function((1, 1), _str_fn("upper", str.upper)),
    "lower": Function((1, 1), _str_fn("lower", str.lower)),
    "trim": Function((1, 1), _str_fn("trim", str.strip)),
    # isNil and default are evaluated lazily by the evaluator (they see missing values)
    "isNil": Function((0, 1), lambda *a: a[0] is None if a else True),
    "default": Function((2, 2), lambda v, d: d if v is None else v),
}
"""Builtins by name: (min args, max args) and the implementation."""

CLOSURE_FUNCTIONS = ("all", "any", "none", "one", "filter", "map", "count")
"""Builtins whose second argument is a predicate over ``#``: ``all(result, {# > 0})``."""
