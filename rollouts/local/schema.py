"""Structural-schema handling for custom resources, as kube-apiserver does it.

:func:`prune` drops fields the schema does not know (honouring
``x-kubernetes-preserve-unknown-fields`` and ``additionalProperties``) and ``null`` values
of non-nullable fields; :func:`apply_defaults` fills ``default`` values;
:func:`validate` checks types, ``required``, ``enum``, ``pattern``, minimum/maximum,
lengths, item counts, ``x-kubernetes-int-or-string``, ``anyOf``/``oneOf``/``allOf``/``not``
and ``x-kubernetes-list-type: map|set`` uniqueness, returning field causes
``(reason, field, message)`` for a 422. CEL rules (``x-kubernetes-validations``) are not
evaluated.
"""

from __future__ import annotations

import copy
import json
import operator
import re
from typing import Any

__all__ = ["Cause", "apply_defaults", "prune", "validate"]

Cause = tuple[str, str, str]
_ROOT_SKIP = {"apiVersion", "kind", "metadata"}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fmt(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def prune(value: Any, schema: dict[str, Any], path: str = "", root: bool = True) -> list[str]:
    """Remove unknown fields in place; return the paths that were removed."""
    removed: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        for key in list(value):
            if root and key in _ROOT_SKIP:
                continue
            sub_path = _join(path, key)
            child = value[key]
            if props is not None and key in props:
                sub = props[key]
            elif isinstance(addl, dict):
                sub = addl
            elif addl is True or preserve or (props is None and not schema.get("type")):
                continue
            else:
                del value[key]
                removed.append(sub_path)
                continue
            if child is None and not sub.get("nullable", False):
                del value[key]
                continue
            removed += prune(child, sub, sub_path, False)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                removed += prune(item, items, f"{path}[{i}]", False)
    return removed


def apply_defaults(value: Any, schema: dict[str, Any], root: bool = True) -> None:
    """Fill ``default`` values in place, recursing into the fields that are present."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if root and key in _ROOT_SKIP:
                continue
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key, child in value.items():
            if root and key in _ROOT_SKIP:
                continue
            sub = props.get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                apply_defaults(child, sub, False)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                apply_defaults(item, items, False)


# bool before int: True is an int to Python but a boolean to JSON.
_JSON_TYPES = (
    (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
    (dict, "object"),
)
_TYPES = {name for _typ, name in _JSON_TYPES}


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return _type_name(value) in ("integer", "string")
    typ = schema.get("type")
    if typ is None:
        return True
    if value is None:
        return bool(schema.get("nullable"))
    actual = _type_name(value)
    return typ not in _TYPES or actual == typ or (typ, actual) == ("number", "integer")


def _invalid(where: str, shown: Any, rule: str, reason: str = "FieldValueInvalid") -> Cause:
    """The cause kube-apiserver reports for a value that breaks ``rule``."""
    return (reason, where, f"Invalid value: {_fmt(shown)}: {where} in body {rule}")


def validate(value: Any, schema: dict[str, Any], path: str = "", root: bool = True) -> list[Cause]:
    """Validation errors of ``value`` against ``schema`` (empty when valid)."""
    where = path or "<root>"
    if not _type_ok(value, schema):
        typ = schema.get("type", "int-or-string")
        actual = _type_name(value)
        return [_invalid(where, actual, f"must be of type {typ}: {_fmt(actual)}",
                         "FieldValueTypeInvalid")]
    if value is None:
        return []
    out: list[Cause] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_fmt(v) for v in schema["enum"])
        out.append(("FieldValueNotSupported", where,
                    f"Unsupported value: {_fmt(value)}: supported values: {allowed}"))
    if isinstance(value, str):
        out += _validate_string(value, schema, where)
    if isinstance(value, int | float) and not isinstance(value, bool):
        out += _validate_number(value, schema, where)
    if isinstance(value, list):
        out += _validate_array(value, schema, path, where)
    if isinstance(value, dict):
        out += _validate_object(value, schema, path, where, root)
    out += _validate_combinators(value, schema, path, where)
    return out


def _type_name(value: Any) -> str:
    """The JSON schema type of a decoded JSON value."""
    return next((name for typ, name in _JSON_TYPES if isinstance(value, typ)), "null")


def _validate_string(value: str, schema: dict[str, Any], where: str) -> list[Cause]:
    out: list[Cause] = []
    pattern = schema.get("pattern")
    if pattern is not None and re.search(pattern, value) is None:
        out.append(_invalid(where, value, f"should match '{pattern}'"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(("FieldValueTooLong", where,
                    f"Too long: may not be more than {schema['maxLength']} bytes"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(_invalid(where, value, f"should be at least {schema['minLength']} chars long"))
    return out


def _validate_number(value: float, schema: dict[str, Any], where: str) -> list[Cause]:
    out: list[Cause] = []
    for bound, exclusive, beyond, rel in (
        ("minimum", "exclusiveMinimum", operator.lt, "greater than"),
        ("maximum", "exclusiveMaximum", operator.gt, "less than"),
    ):
        if bound not in schema:
            continue
        limit, strict = schema[bound], schema.get(exclusive) is True
        if beyond(value, limit) or (strict and value == limit):
            rule = f"{rel} {limit}" if strict else f"{rel} or equal to {limit}"
            out.append(_invalid(where, value, f"should be {rule}"))
    if "multipleOf" in schema and schema["multipleOf"] and value % schema["multipleOf"] != 0:
        out.append(_invalid(where, value, f"should be a multiple of {schema['multipleOf']}"))
    return out


def _validate_array(value: list[Any], schema: dict[str, Any], path: str, where: str) -> list[Cause]:
    out: list[Cause] = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(("FieldValueTooMany", where,
                    f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(_invalid(where, len(value), f"should have at least {schema['minItems']} items"))
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            out += validate(item, items, f"{path}[{i}]", False)
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set" or schema.get("uniqueItems"):
        idents = list(enumerate(value))
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        idents = [(i, {k: item.get(k) for k in keys})
                  for i, item in enumerate(value) if isinstance(item, dict)]
    else:
        idents = []
    seen: list[Any] = []
    for i, ident in idents:
        if ident in seen:
            out.append(("FieldValueDuplicate", f"{path}[{i}]", f"Duplicate value: {_fmt(ident)}"))
        seen.append(ident)
    return out


def _validate_object(
    value: dict[str, Any], schema: dict[str, Any], path: str, where: str, root: bool
) -> list[Cause]:
    out: list[Cause] = []
    for req in schema.get("required") or []:
        if req not in value:
            out.append(("FieldValueRequired", _join(path, req), "Required value"))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        out.append(("FieldValueTooMany", where,
                    f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        out.append(_invalid(where, len(value),
                            f"should have at least {schema['minProperties']} properties"))
    props = schema.get("properties") or {}
    addl = schema.get("additionalProperties")
    for key, child in value.items():
        if root and key in _ROOT_SKIP:
            continue
        sub = props.get(key)
        if sub is None and isinstance(addl, dict):
            sub = addl
        if sub is not None:
            out += validate(child, sub, _join(path, key), False)
    return out


def _validate_combinators(value: Any, schema: dict[str, Any], path: str, where: str) -> list[Cause]:
    def ok(sub: dict[str, Any]) -> bool:
        return not validate(value, sub, path, False)

    out: list[Cause] = []
    for sub in schema.get("allOf") or []:
        out += validate(value, sub, path, False)
    any_of = schema.get("anyOf")
    if any_of and not any(ok(s) for s in any_of):
        out.append(_invalid(where, value, "must match at least one schema in anyOf"))
    one_of = schema.get("oneOf")
    if one_of and sum(1 for s in one_of if ok(s)) != 1:
        out.append(_invalid(where, value, "must match exactly one schema in oneOf"))
    not_schema = schema.get("not")
    if isinstance(not_schema, dict) and ok(not_schema):
        out.append(_invalid(where, value, "should not match the schema"))
    return out
