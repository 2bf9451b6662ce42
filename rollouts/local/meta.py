"""Object metadata rules shared by every resource: names, timestamps, comparisons."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "TIME_FORMAT",
    "generate_name",
    "new_uid",
    "now_iso",
    "parse_time",
    "same_ignoring",
    "seconds_since",
    "validate_metadata",
]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the RFC 3339 form of metav1.Time


def now_iso(offset_seconds: float = 0) -> str:
    when = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return when.strftime(TIME_FORMAT)


def parse_time(timestamp: str) -> datetime | None:
    """The instant a timestamp names, or None when it is malformed."""
    try:
        return datetime.strptime(timestamp, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def seconds_since(timestamp: str) -> float:
    """How long ago ``timestamp`` was (0 when it is malformed)."""
    then = parse_time(timestamp)
    return 0.0 if then is None else (datetime.now(UTC) - then).total_seconds()


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    return prefix + "".join(random.choice(_ALPHABET) for _ in range(5))


def validate_metadata(meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Field causes for an invalid name or invalid labels."""
    causes: list[tuple[str, str, str]] = []
    name = meta.get("name", "")
    if not name:
        causes.append(
            (
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        causes.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            )
        )
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(("FieldValueTypeInvalid", "metadata.labels", "must be a map"))
        labels = {}
    for key, value in labels.items():
        _prefix, _, short = str(key).rpartition("/")
        if not short or len(short) > 63 or not _QUALIFIED.match(short):
            causes.append(
                (
                    "FieldValueInvalid",
                    "metadata.labels",
                    f'Invalid value: "{key}": name part must consist of alphanumeric '
                    "characters, '-', '_' or '.'",
                )
            )
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                (
                    "FieldValueInvalid",
                    "metadata.labels",
                    f'Invalid value: "{value}": a valid label must be an empty string or '
                    "consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
    causes += _validate_lists(meta)
    return causes


def _validate_lists(meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Annotations, finalizers and owner references have the shapes clients rely on."""
    causes: list[tuple[str, str, str]] = []
    annotations = meta.get("annotations")
    if annotations is not None and (
        not isinstance(annotations, dict)
        or not all(isinstance(v, str) for v in annotations.values())
    ):
        causes.append(
            (
                "FieldValueTypeInvalid",
                "metadata.annotations",
                "Invalid value: must be a map of strings",
            )
        )
    finalizers = meta.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        causes.append(
            (
                "FieldValueTypeInvalid",
                "metadata.finalizers",
                "Invalid value: must be a list of strings",
            )
        )
    refs = meta.get("ownerReferences")
    if refs is not None:
        if not isinstance(refs, list):
            causes.append(
                (
                    "FieldValueTypeInvalid",
                    "metadata.ownerReferences",
                    "Invalid value: must be a list",
                )
            )
            return causes
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict):
                causes.append(
                    (
                        "FieldValueTypeInvalid",
                        f"metadata.ownerReferences[{i}]",
                        "Invalid value: must be an object",
                    )
                )
                continue
            for key in ("apiVersion", "kind", "name", "uid"):
                if not isinstance(ref.get(key), str) or not ref.get(key):
                    causes.append(
                        (
                            "FieldValueRequired",
                            f"metadata.ownerReferences[{i}].{key}",
                            "Required value",
                        )
                    )
    return causes


def same_ignoring(a: dict[str, Any], b: dict[str, Any], *fields: str) -> bool:
    """Whether ``a`` and ``b`` are equal once the top-level ``fields`` are dropped."""
    ca = {k: v for k, v in a.items() if k not in fields}
    cb = {k: v for k, v in b.items() if k not in fields}
    return ca == cb

