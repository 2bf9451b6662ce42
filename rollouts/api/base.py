"""Shared building blocks of every model: the camelCase strict base class, Kubernetes
object metadata, conditions, label selectors, durations and int-or-string values.

Field names on the wire are Kubernetes' camelCase; in Python they are snake_case.
Unknown fields are errors (as ``kubectl apply --validate=strict`` reports them),
except inside embedded objects we do not own (pod templates), which are kept as dicts.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "Condition",
    "Duration",
    "IntOrString",
    "KubeObject",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Model",
    "ObjectMeta",
    "OwnerReference",
    "check_duration",
    "duration_seconds",
    "resolve_int_or_percent",
]


class Model(BaseModel):
    """Base of every model: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=False,
        use_attribute_docstrings=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: int | str) -> float:
    """Seconds in a duration: an integer (seconds), a digit string, or Go's `1h30m5s`."""
    if isinstance(value, int):
        return float(value)
    text = value.strip()
    if text.isdigit():
        return float(text)
    if not _DURATION.match(text):
        raise ValueError(
            f"invalid duration {value!r}: use an integer number of seconds or a "
            "duration such as 30s, 5m, 1h or 1h30m"
        )
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def check_duration(value: int | str) -> int | str:
    """``value`` if it is a valid, non-negative duration; ``ValueError`` otherwise."""
    if isinstance(value, int) and value < 0:
        raise ValueError(f"invalid duration {value}: must not be negative")
    duration_seconds(value)
    return value


Duration = Annotated[int | str, AfterValidator(check_duration)]
"""A duration as Argo Rollouts writes it: ``30s``, ``5m``, ``1h30m`` or integer seconds."""

_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


def _check_int_or_string(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid value {value}: must not be negative")
        return value
    if not _PERCENT.match(value) and not value.isdigit():
        raise ValueError(f"invalid value {value!r}: use an integer or a percentage such as '25%'")
    return value


IntOrString = Annotated[int | str, AfterValidator(_check_int_or_string)]
"""Kubernetes' intstr: an absolute count (``2``) or a percentage (``"25%"``)."""


def resolve_int_or_percent(value: int | str, total: int, *, round_up: bool) -> int:
    """An intstr against a total, as Kubernetes resolves maxSurge (up) and maxUnavailable
    (down)."""
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    match = _PERCENT.match(value)
    if match is None:
        raise ValueError(f"invalid value {value!r}")
    exact = float(match.group(1)) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


class OwnerReference(Model):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(Model):
    """Kubernetes ObjectMeta. Server-managed fields are accepted as they come back."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    finalizers: list[str] | None = None
    owner_references: list[OwnerReference] | None = None
    managed_fields: list[dict[str, Any]] | None = None
    self_link: str | None = None


class KubeObject(Model):
    """Common envelope: apiVersion, kind, metadata."""

    api_version: str
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


class LabelSelectorRequirement(Model):
    key: str
    operator: str
    values: list[str] | None = None


class LabelSelector(Model):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class Condition(Model):
    """A status condition as Argo Rollouts writes them (with lastUpdateTime)."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None
    last_update_time: datetime | None = None
