"""The structural OpenAPI v3 schema of a CRD, converted from a model's JSON schema.

Why this exists: a CRD's schema must be generated from the models, never written by
hand, and the conversion is a self-contained piece of logic with its own rules, split out
of ``rollouts.api.crds`` (which re-exports :func:`structural_schema` and
:class:`SchemaError`) to keep each module small.

:func:`structural_schema` turns a model's pydantic JSON schema into the structural
OpenAPI v3 schema that kube-apiserver requires of a CRD (``apiextensions.k8s.io/v1``):

- every ``$ref`` is inlined (a CRD schema has no ``$defs``);
- ``anyOf [integer, string]`` (durations, intstr) gets ``x-kubernetes-int-or-string``;
- ``anyOf [X, null]`` (an optional field) becomes plain ``X``: Kubernetes has no null
  type, an optional field is one that is not ``required``;
- free-form values (the embedded pod template, ``dict[str, Any]``, ``Any``) keep their
  content with ``x-kubernetes-preserve-unknown-fields``;
- pydantic's titles and ``default: null`` go, real defaults stay (the API server applies
  them), ``additionalProperties: false`` goes (unknown fields are pruned anyway);
- the root ``metadata`` is reduced to ``type: object`` as Kubernetes requires.

Anything the converter does not know how to express raises :class:`SchemaError`, so a
model change that a CRD cannot carry is noticed when ``crds/`` is regenerated.

``rollouts.api.structural.structural_problems`` checks a schema against the structural
rules; the tests run it over every generated CRD.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["SchemaError", "structural_schema"]


class SchemaError(ValueError):
    """A model construct that a structural CRD schema cannot express."""


# Keys of a pydantic JSON schema node that carry over to OpenAPI v3 unchanged.
_KEPT = (
    "description", "format", "pattern", "enum",
    "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
    "multipleOf", "minProperties", "maxProperties",
)
# Keys the converter handles itself or drops on purpose.
_HANDLED = {
    "$ref", "$defs", "anyOf", "type", "properties", "required", "items",
    "additionalProperties", "default", "title", "const", "exclusiveMinimum",
    "exclusiveMaximum", "examples", "uniqueItems", "deprecated", "readOnly", "writeOnly",
}
# Formats kube-apiserver knows; pydantic's others are dropped rather than rejected.
_FORMATS = {"date-time", "date", "int32", "int64", "float", "double", "byte", "uri",
            "email", "hostname", "ipv4", "ipv6", "uuid", "duration", "password"}

_ROOT_DESCRIPTIONS = {
    "apiVersion": (
        "APIVersion defines the versioned schema of this representation of an object. "
        "Servers should convert recognized schemas to the latest internal value, and may "
        "reject unrecognized values."
    ),
    "kind": (
        "Kind is a string value representing the REST resource this object represents. "
        "Servers may infer this from the endpoint the client submits requests to. "
        "In CamelCase."
    ),
}


class _Converter:
    def __init__(self, defs: dict[str, Any], no_default: frozenset[tuple[str, str]]) -> None:
        self.defs = defs
        self.no_default = no_default

    def convert(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        """The structural form of one schema node (a new dict; the input is untouched)."""
        node = self._resolve(node, path)
        unknown = set(node) - _HANDLED - set(_KEPT)
        if unknown:
            raise SchemaError(f"{path or '<root>'}: cannot express {sorted(unknown)} in a CRD")
        if "anyOf" in node:
            return self._any_of(node, path)
        out: dict[str, Any] = {}
        for key in _KEPT:
            if key in node:
                out[key] = node[key]
        if "description" in out:  # docstrings use reST literals; kubectl explain shows text
            out["description"] = str(out["description"]).replace("``", "`")
        if "format" in out and out["format"] not in _FORMATS:
            del out["format"]
        for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if key in node:  # JSON Schema 2020 number -> OpenAPI 3.0 boolean flag
                out[bound] = node[key]
                out[key] = True
        if "const" in node:
            out["enum"] = [node["const"]]
        if node.get("examples"):
            out["example"] = node["examples"][0]
        if node.get("uniqueItems"):  # CRDs refuse uniqueItems; a set list says the same
            out["x-kubernetes-list-type"] = "set"
        if node.get("default") is not None:
            out["default"] = node["default"]
        kind = node.get("type")
        if kind is None and "const" in node:
            kind = _json_type(node["const"])
        if kind is None and "enum" in node:
            types = {_json_type(v) for v in node["enum"]}
            kind = types.pop() if len(types) == 1 else None
        if kind is None:
            if set(node) - {"description", "default", "title"}:
                raise SchemaError(f"{path}: a node without a type: {node}")
            # Any: any JSON value, kept as it is.
            out["x-kubernetes-preserve-unknown-fields"] = True
            return out
        if isinstance(kind, list):
            raise SchemaError(f"{path}: several types {kind}")
        out["type"] = kind
        if kind == "object":
            self._object(node, out, path)
        elif kind == "array":
            if "items" not in node:
                raise SchemaError(f"{path}: an array without items")
            out["items"] = self.convert(node["items"], f"{path}[]")
        return out

    def _resolve(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        while "$ref" in node:
            ref = node["$ref"]
            prefix = "#/$defs/"
            if not ref.startswith(prefix) or ref[len(prefix):] not in self.defs:
                raise SchemaError(f"{path}: unresolvable $ref {ref}")
            target = dict(self.defs[ref[len(prefix):]])
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            # Sibling keys (a field's own description or default) win over the target's.
            target.update(siblings)
            target["title"] = ref[len(prefix):]  # the model's name, which _object looks up
            node = target
        return node

    def _any_of(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        options = [self._resolve(o, path) for o in node["anyOf"]]
        options = [o for o in options if o.get("type") != "null"]
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            merged = {**options[0], **outer}
            if "title" in options[0]:  # the model's name, which _object looks up
                merged["title"] = options[0]["title"]
            return self.convert(merged, path)
        types = sorted(str(o.get("type")) for o in options)
        if types == ["integer", "string"]:
            # The form controller-gen writes, which kubectl explain shows as <IntOrString>.
            out: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "string"}],
                                   "x-kubernetes-int-or-string": True}
            if "description" in outer:
                out["description"] = outer["description"]
            if outer.get("default") is not None:
                out["default"] = outer["default"]
            return out
        raise SchemaError(f"{path}: a union of {types} has no structural form")

    def _object(self, node: dict[str, Any], out: dict[str, Any], path: str) -> None:
        properties = node.get("properties")
        additional = node.get("additionalProperties")
        if properties:
            owner = str(node.get("title", ""))
            converted: dict[str, Any] = {}
            for name, prop in properties.items():
                child = self.convert(prop, f"{path}.{name}" if path else name)
                if (owner, name) in self.no_default:
                    child.pop("default", None)
                converted[name] = child
            out["properties"] = converted
            required = [r for r in node.get("required", []) if r in properties]
            if required:
                out["required"] = required
        elif isinstance(additional, dict):
            out["additionalProperties"] = self.convert(additional, f"{path}.*")
        elif additional is False or properties is not None:
            pass  # a model without fields: an empty object, anything in it is pruned
        else:
            # dict[str, Any] or an object with no declared fields: keep what comes.
            out["x-kubernetes-preserve-unknown-fields"] = True


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    raise SchemaError(f"cannot type the constant {value!r}")


def structural_schema(
    model: type[BaseModel],
    description: str = "",
    no_server_default: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of a top-level resource model."""
    source = model.model_json_schema(by_alias=True, mode="validation")
    converter = _Converter(source.get("$defs", {}), no_server_default)
    properties = source.get("properties", {})
    out_properties: dict[str, Any] = {}
    for name, prop in properties.items():
        if name in _ROOT_DESCRIPTIONS:
            out_properties[name] = {"type": "string", "description": _ROOT_DESCRIPTIONS[name]}
        elif name == "metadata":
            out_properties[name] = {"type": "object"}
        else:
            out_properties[name] = converter.convert(prop, name)
    schema: dict[str, Any] = {"type": "object", "properties": out_properties}
    if description or source.get("description"):
        schema["description"] = description or source["description"]
    required = [r for r in source.get("required", []) if r not in _ROOT_DESCRIPTIONS
                and r != "metadata"]
    if required:
        schema["required"] = required
    return schema
