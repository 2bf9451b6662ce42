"""Admission of objects: the schema pipeline every write goes through.

Metadata checks for all kinds; defaults and checks for built-in kinds
(:mod:`rollouts.local.builtins`); prune, default and validate for custom resources
(:mod:`rollouts.local.schema`), with ``fieldValidation`` (Strict, Warn, Ignore) deciding
what unknown fields cause; CRD checks for CustomResourceDefinitions.
"""

from __future__ import annotations

from typing import Any

from rollouts.local import errors, schema
from rollouts.local.builtin_schemas import builtin_schema
from rollouts.local.builtins import default_builtin, validate_builtin
from rollouts.local.crds import validate_crd
from rollouts.local.meta import validate_metadata
from rollouts.local.resources import ResourceType

__all__ = ["admit"]

Obj = dict[str, Any]


def admit(
    rt: ResourceType,
    obj: Obj,
    validation: str,
    warnings: list[str],
    old: Obj | None = None,
) -> None:
    """Prune, default and validate ``obj`` in place; raise 422 or 400 when it is bad."""
    name = obj["metadata"].get("name", "")
    causes = validate_metadata(obj["metadata"])
    if not rt.custom:
        builtin = builtin_schema(rt)
        if builtin is not None:
            _prune(rt, obj, builtin, validation, warnings)
            _check_types(rt, obj, builtin)
        default_builtin(rt, obj)
        causes += validate_builtin(rt, obj, old)
    if rt.schema is not None:
        _prune(rt, obj, rt.schema, validation, warnings)
        schema.apply_defaults(obj, rt.schema)
        causes += schema.validate(obj, rt.schema)
    if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
        causes += validate_crd(obj)
    if causes:
        raise errors.invalid(rt.group, rt.kind, name, causes)


# -- writes ------------------------------------------------------------------------


def _prune(
    rt: ResourceType, obj: Obj, structural: dict[str, Any], validation: str, warnings: list[str]
) -> None:
    """Drop unknown fields; refuse them under Strict, warn about them under Warn."""
    removed = schema.prune(obj, structural)
    if not removed:
        return
    msgs = [f'unknown field "{p}"' for p in removed]
    if validation == "Strict":
        raise errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"strict decoding error: {', '.join(msgs)}"
        )
    if validation == "Warn":
        warnings.extend(msgs)


def _check_types(rt: ResourceType, obj: Obj, structural: dict[str, Any]) -> None:
    """Values of the wrong type in a built-in object cannot be decoded: 400, as Go's would."""
    wrong = [c for c in schema.validate(obj, structural) if c[0] == "FieldValueTypeInvalid"]
    if wrong:
        details = "; ".join(f"{field}: {message}" for _reason, field, message in wrong)
        raise errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {details}'
        )
