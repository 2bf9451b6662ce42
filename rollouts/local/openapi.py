"""OpenAPI documents: enough for ``kubectl apply``, ``kubectl explain`` and validation.

OpenAPI v3 (``/openapi/v3`` and ``/openapi/v3/apis/G/V``) publishes every custom resource
with its structural schema and every built-in kind with the schema of the ``kubernetes``
client's models (:mod:`rollouts.local.builtin_schemas`), with PATCH operations that accept
the ``fieldValidation`` query parameter, so kubectl leaves validation to the server (which
prunes and validates as kube-apiserver does) and ``kubectl explain`` works. Strategic
merge patch is not announced, so kubectl computes those patches from its compiled-in
types. ``/openapi/v2`` answers an empty document. Documents are cached per generation of
the registry.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from rollouts.local.builtin_schemas import builtin_schemas, model_class_name, schema_name
from rollouts.local.registry import Registry
from rollouts.local.resources import ResourceType

__all__ = ["openapi_v2", "openapi_v3_group", "openapi_v3_root"]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_OBJECT_META_SCHEMA: dict[str, Any] = {
    "description": "ObjectMeta is metadata that all persisted resources must have, which "
    "includes all objects users must create.",
    "type": "object",
    "properties": {
        "annotations": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Annotations is an unstructured key value map.",
        },
        "creationTimestamp": {
            "type": "string",
            "format": "date-time",
            "description": "CreationTimestamp is when this object was created.",
        },
        "deletionTimestamp": {
            "type": "string",
            "format": "date-time",
            "description": "DeletionTimestamp is when this object will be deleted.",
        },
        "finalizers": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Must be empty before the object is deleted.",
        },
        "generateName": {"type": "string", "description": "Prefix for a generated name."},
        "generation": {
            "type": "integer",
            "format": "int64",
            "description": "A sequence number representing a specific generation "
            "of the desired state.",
        },
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Map of string keys and values to organize and select objects.",
        },
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "namespace": {
            "type": "string",
            "description": "Namespace defines the space within which each name must be unique.",
        },
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object"},
            "description": "List of objects depended by this object.",
        },
        "resourceVersion": {
            "type": "string",
            "description": "An opaque value that represents the internal version of this object.",
        },
        "uid": {
            "type": "string",
            "description": "UID is the unique in time and space value for this object.",
        },
    },
}


def _def_name(rt: ResourceType) -> str:
    if builtin_schemas(rt) is not None:
        return schema_name(model_class_name(rt))
    rev = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{rev}.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _crd_schema(rt: ResourceType) -> dict[str, Any]:
    sch: dict[str, Any] = copy.deepcopy(rt.schema) if rt.schema else {"type": "object"}
    props: dict[str, Any] = sch.setdefault("properties", {})
    props["metadata"] = {
        "allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}],
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/"
        "contributors/devel/sig-architecture/api-conventions.md#metadata",
    }
    props.setdefault(
        "apiVersion",
        {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation of an "
            "object.",
        },
    )
    props.setdefault(
        "kind",
        {
            "type": "string",
            "description": "Kind is a string value representing the REST resource this object "
            "represents.",
        },
    )
    sch["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return sch


def _params(names: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


_QUERY = [
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
]


def _op(rt: ResourceType, action: str, ref: str, body: list[str] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "parameters": copy.deepcopy(_QUERY) if action in ("patch", "create", "replace") else [],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }
    if body:
        op["requestBody"] = {
            "content": {ct: {"schema": {"type": "object"}} for ct in body},
            "required": True,
        }
    return op


def _paths(rt: ResourceType) -> dict[str, Any]:
    ref = f"#/components/schemas/{_def_name(rt)}"
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    coll = (
        f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    )
    ns_params = ["namespace"] if rt.namespaced else []
    # Strategic merge patch is accepted for built-in kinds but not announced here: kubectl
    # then computes its patches from its compiled-in types, which carry the merge keys.
    patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]
    item = {
        "parameters": _params(["name", *ns_params]) + copy.deepcopy(_QUERY),
        "get": _op(rt, "get", ref),
        "put": _op(rt, "put", ref, ["application/json"]),
        "patch": _op(rt, "patch", ref, patch_types),
        "delete": _op(rt, "delete", ref),
    }
    collection = {
        "parameters": _params(ns_params) + copy.deepcopy(_QUERY),
        "get": _op(rt, "list", ref),
        "post": _op(rt, "post", ref, ["application/json"]),
    }
    return {coll: collection, f"{coll}/{{name}}": item}


def _published(registry: Registry, group: str, version: str) -> list[ResourceType]:
    return [rt for rt in registry.all() if rt.group == group and rt.version == version]


def openapi_v3_group(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    key = ("v3", group, version)
    if key not in registry.cache:
        registry.cache[key] = _openapi_v3_group(registry, group, version)
    doc: dict[str, Any] | None = registry.cache[key]
    return doc


def _openapi_v3_group(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = _published(registry, group, version)
    if not types:
        return None
    schemas: dict[str, Any] = {OBJECT_META: copy.deepcopy(_OBJECT_META_SCHEMA)}
    paths: dict[str, Any] = {}
    for rt in types:
        builtin = builtin_schemas(rt)
        if builtin is not None:
            for name, sch in builtin.items():
                schemas.setdefault(name, copy.deepcopy(sch))
            schemas[_def_name(rt)]["x-kubernetes-group-version-kind"] = [_gvk(rt)]
        else:
            schemas[_def_name(rt)] = _crd_schema(rt)
        paths.update(_paths(rt))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v3_root(registry: Registry) -> dict[str, Any]:
    if "v3root" not in registry.cache:
        registry.cache["v3root"] = _openapi_v3_root(registry)
    root: dict[str, Any] = registry.cache["v3root"]
    return root


def _openapi_v3_root(registry: Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    seen = {(rt.group, rt.version) for rt in registry.all()}
    for group, version in sorted(seen):
        doc = openapi_v3_group(registry, group, version)
        if doc is None:
            continue
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        rel = f"apis/{group}/{version}" if group else f"api/{version}"
        paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={digest}"}
    return {"paths": paths}


def openapi_v2() -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": {},
        "definitions": {},
    }
