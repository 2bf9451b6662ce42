"""OpenAPI schemas of the built-in kinds, derived from the ``kubernetes`` client's models.

The official Python client ships a model class per Kubernetes type with the field names,
types and descriptions of the API's OpenAPI document. From them this module builds
OpenAPI v3 schemas, so that ``kubectl explain deployment.spec`` works and so that unknown
fields in built-in objects are dropped (or refused under ``fieldValidation=Strict``) as
kube-apiserver does. Values typed ``object`` in the models (IntOrString, RawExtension)
keep whatever they hold.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from rollouts.local.resources import ResourceType

__all__ = ["builtin_schema", "builtin_schemas", "model_class_name", "schema_name"]

# The model class of each served built-in kind (those the client names differently).
_CLASS_NAMES = {
    ("", "Event"): "CoreV1Event",
    ("events.k8s.io", "Event"): "EventsV1Event",
}
# Kinds not pruned with their model schema.
_NO_SCHEMA = {"apiextensions.k8s.io/customresourcedefinitions"}
_LIST = re.compile(r"^(?:List|list)\[(.+)\]$")
_DICT = re.compile(r"^(?:Dict|dict)[\[(]str, *(.+)[\])]$")
_SCALARS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "bytes": {"type": "string", "format": "byte"},
    "bytearray": {"type": "string", "format": "byte"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "object": {"x-kubernetes-preserve-unknown-fields": True},
}


def model_class_name(rt: ResourceType) -> str:
    return _CLASS_NAMES.get((rt.group, rt.kind), f"{rt.version.upper()}{rt.kind}")


def schema_name(class_name: str) -> str:
    """The component name for a model class; explain shows the part after the last dot."""
    return "io.k8s.api." + re.sub(
        r"^(?:Core|Events|Apps)?V\d+(?:beta\d+|alpha\d+)?", "", class_name
    )


def _models() -> Any:
    import kubernetes.client.models as models  # imported on first use: it is large

    return models


def _type_schema(type_name: str, defs: dict[str, Any]) -> dict[str, Any]:
    type_name = type_name.strip()
    if type_name in _SCALARS:
        return dict(_SCALARS[type_name])
    m = _LIST.match(type_name)
    if m:
        return {"type": "array", "items": _type_schema(m.group(1), defs)}
    m = _DICT.match(type_name)
    if m:
        return {"type": "object", "additionalProperties": _type_schema(m.group(1), defs)}
    _class_schema(type_name, defs)
    return {"$ref": f"#/components/schemas/{schema_name(type_name)}"}


def _description(cls: Any) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _class_schema(class_name: str, defs: dict[str, Any]) -> None:
    name = schema_name(class_name)
    if name in defs:
        return
    cls = getattr(_models(), class_name, None)
    if cls is None:
        defs[name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return
    out: dict[str, Any] = {"type": "object", "description": _description(cls), "properties": {}}
    defs[name] = out
    fields = getattr(cls, "model_fields", {})
    for attr, type_name in cls.openapi_types.items():
        prop = _type_schema(type_name, defs)
        info = fields.get(attr)
        description = getattr(info, "description", None) if info is not None else None
        if description:
            if "$ref" in prop:
                prop = {"allOf": [prop], "description": description}
            else:
                prop["description"] = description
        out["properties"][cls.attribute_map[attr]] = prop


@functools.cache
def _component(class_name: str) -> tuple[dict[str, Any], ...]:
    defs: dict[str, Any] = {}
    _class_schema(class_name, defs)
    return (defs,)


def builtin_schemas(rt: ResourceType) -> dict[str, Any] | None:
    """All component schemas the kind needs (its own under :func:`schema_name`), or None."""
    if rt.custom:
        return None
    class_name = model_class_name(rt)
    if getattr(_models(), class_name, None) is None:
        return None
    return _component(class_name)[0]


def _resolve(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Inline ``$ref``/``allOf`` so the schema functions can walk it (cut at depth 40)."""
    if depth > 40:
        return {"x-kubernetes-preserve-unknown-fields": True}
    if "$ref" in schema:
        return _resolve(defs[schema["$ref"].rsplit("/", 1)[1]], defs, depth + 1)
    if "allOf" in schema:
        return _resolve(schema["allOf"][0], defs, depth + 1)
    out = {k: v for k, v in schema.items() if k not in ("description",)}
    if "properties" in out:
        out["properties"] = {k: _resolve(v, defs, depth + 1) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _resolve(out["items"], defs, depth + 1)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _resolve(out["additionalProperties"], defs, depth + 1)
    return out


@functools.cache
def _inlined(class_name: str) -> tuple[dict[str, Any], ...]:
    defs = _component(class_name)[0]
    return (_resolve(defs[schema_name(class_name)], defs),)


def builtin_schema(rt: ResourceType) -> dict[str, Any] | None:
    """The kind's schema with references inlined, for pruning; None when there is none.

    CustomResourceDefinitions are not pruned: their schemas nest arbitrarily deep.
    """
    if rt.key in _NO_SCHEMA or builtin_schemas(rt) is None:
        return None
    return _inlined(model_class_name(rt))[0]
