"""The structural-schema rules Kubernetes imposes on CRD schemas, as a checker.

The CRD generator must produce structural schemas (no $ref, a type on every node,
value validations only in allowed places, defaults that fit their schema); the tests
run every generated schema through ``structural_problems``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["structural_problems"]


_VALUE_VALIDATION = ("allOf", "anyOf", "oneOf", "not")
_FORBIDDEN_IN_JUNCTORS = ("description", "type", "default", "additionalProperties", "nullable")
_ALLOWED_KEYS = {
    "type", "description", "format", "pattern", "enum", "default", "nullable",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
    "properties", "additionalProperties", "items", "required", "uniqueItems",
    "allOf", "anyOf", "oneOf", "not", "example", "externalDocs", "title",
    "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type", "x-kubernetes-validations",
}
_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def structural_problems(schema: dict[str, Any]) -> list[str]:
    """Ways ``schema`` (an ``openAPIV3Schema``) breaks Kubernetes' structural-schema rules.

    Checked: no ``$ref``/``$defs``; a type on every node unless it is int-or-string or
    preserves unknown fields; known types and keys only; ``properties`` and
    ``additionalProperties`` not together and never ``additionalProperties: false``;
    value validations (``anyOf`` ...) only in the int-or-string pattern; the root
    metadata at most restricts name and generateName; defaults valid for their node.
    """
    problems: list[str] = []
    _check_node(schema, "", problems, root=True)
    return problems


def _check_node(node: Any, path: str, problems: list[str], root: bool = False) -> None:
    where = path or "<root>"
    if not isinstance(node, dict):
        problems.append(f"{where}: a schema must be a mapping")
        return
    for key in node:
        if key not in _ALLOWED_KEYS:
            problems.append(f"{where}: {key} is not allowed in a CRD schema")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "x-kubernetes-preserve-unknown-fields" in node and not preserve:
        problems.append(f"{where}: x-kubernetes-preserve-unknown-fields must be true or absent")
    kind = node.get("type")
    if kind is None and not (int_or_string or preserve):
        problems.append(f"{where}: type is required")
    elif kind is not None and kind not in _TYPES:
        problems.append(f"{where}: unknown type {kind!r}")
    if int_or_string and kind is not None:
        problems.append(f"{where}: x-kubernetes-int-or-string must not have a type")
    for junctor in _VALUE_VALIDATION:
        if junctor not in node:
            continue
        if junctor == "anyOf" and int_or_string and node[junctor] == _INT_OR_STRING:
            continue
        options = node[junctor] if isinstance(node[junctor], list) else [node[junctor]]
        for option in options:
            for key in _FORBIDDEN_IN_JUNCTORS:
                if isinstance(option, dict) and key in option:
                    problems.append(f"{where}: {key} inside {junctor}")
            if isinstance(option, dict) and ("properties" in option or "items" in option):
                problems.append(f"{where}: fields declared inside {junctor}")
    properties = node.get("properties")
    additional = node.get("additionalProperties")
    if additional is False:
        problems.append(f"{where}: additionalProperties: false is not allowed")
    if properties and isinstance(additional, dict):
        problems.append(f"{where}: properties and additionalProperties are mutually exclusive")
    if node.get("uniqueItems") is True:
        problems.append(f"{where}: uniqueItems is not allowed (use x-kubernetes-list-type: set)")
    if (properties is not None or additional is not None) and kind not in (None, "object"):
        problems.append(f"{where}: properties on a non-object")
    if kind == "array" and "items" not in node:
        problems.append(f"{where}: an array needs items")
    if "items" in node and kind != "array":
        problems.append(f"{where}: items on a non-array")
    for name in node.get("required", []):
        if properties is None or name not in properties:
            problems.append(f"{where}: required field {name!r} is not declared")
    if "default" in node:
        problems += [f"{where}: default {d}" for d in _value_problems(node["default"], node)]
    for name, child in (properties or {}).items():
        child_path = f"{path}.{name}" if path else name
        if root and name == "metadata":
            extra = set(child) - {"type", "description", "properties"} if isinstance(
                child, dict) else set()
            restricted = set((child.get("properties") or {}) if isinstance(child, dict) else {})
            if extra or restricted - {"name", "generateName"} or (
                    isinstance(child, dict) and child.get("type") != "object"):
                problems.append("metadata: only name and generateName may be restricted")
            continue
        _check_node(child, child_path, problems)
    if isinstance(additional, dict):
        _check_node(additional, f"{path}.*", problems)
    if "items" in node:
        _check_node(node["items"], f"{path}[]", problems)


def _value_problems(value: Any, node: dict[str, Any]) -> list[str]:
    """Why ``value`` does not fit ``node`` (a light check, enough for defaults)."""
    if node.get("x-kubernetes-preserve-unknown-fields") is True and "type" not in node:
        return []
    if node.get("x-kubernetes-int-or-string") is True:
        ok = isinstance(value, int | str) and not isinstance(value, bool)
        return [] if ok else [f"{value!r} is neither an integer nor a string"]
    kind = node.get("type")
    checks: dict[str, Any] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }
    if kind in checks and not checks[kind](value):
        return [f"{value!r} is not of type {kind}"]
    if "enum" in node and value not in node["enum"]:
        return [f"{value!r} is not one of {node['enum']}"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            return [f"{value!r} is below the minimum {node['minimum']}"]
        if "maximum" in node and value > node["maximum"]:
            return [f"{value!r} is above the maximum {node['maximum']}"]
    return []
