"""Structural schemas: pruning, defaulting and validation of custom resources."""

from __future__ import annotations

from typing import Any

from rollouts.local.schema import apply_defaults, prune, validate
from rollouts.local.selectors import parse_field_selector, parse_label_selector

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 2, "maxLength": 5},
                "port": {"x-kubernetes-int-or-string": True},
                "weight": {
                    "type": "integer",
                    "default": 1,
                    "minimum": 0,
                    "exclusiveMaximum": True,
                    "maximum": 100,
                },
                "opts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "items": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["key"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "mode": {"type": "string", "default": "on"},
                        },
                    },
                },
                "choice": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                },
                "maybe": {"type": "string", "nullable": True},
            },
        },
    },
}


def test_prune_drops_unknown_fields_but_keeps_preserved_ones() -> None:
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n", "extra": 1},
        "spec": {
            "name": "ab",
            "junk": 1,
            "free": {"any": {"thing": 1}},
            "opts": {"k": 1},
            "items": [{"key": "a", "nope": 2}],
            "maybe": None,
            "weight": None,
        },
        "top": True,
    }
    removed = prune(obj, SCHEMA)
    assert sorted(removed) == ["spec.items[0].nope", "spec.junk", "top"]
    assert obj["spec"]["free"] == {"any": {"thing": 1}}
    assert obj["spec"]["maybe"] is None and "weight" not in obj["spec"]
    assert obj["metadata"] == {"name": "n", "extra": 1}


def test_defaults_fill_missing_fields_at_every_level() -> None:
    obj: dict[str, Any] = {
        "spec": {"name": "ab", "items": [{"key": "a"}, {"key": "b", "mode": "off"}]}
    }
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["weight"] == 1
    assert [i["mode"] for i in obj["spec"]["items"]] == ["on", "off"]


def test_validation_names_every_bad_field() -> None:
    obj = {
        "spec": {
            "name": "abcdefg",
            "port": 1.5,
            "weight": 100,
            "opts": {"k": "v"},
            "items": [{"key": "a"}, {"key": "a"}],
            "choice": {"a": "x", "b": "y"},
        }
    }
    fields = sorted(field for _r, field, _m in validate(obj, SCHEMA))
    assert fields == [
        "spec.choice",
        "spec.items[1]",
        "spec.name",
        "spec.opts.k",
        "spec.port",
        "spec.weight",
    ]
    # The reasons and messages are kube-apiserver's: kubectl prints them as they come.
    assert sorted(validate(obj, SCHEMA), key=lambda c: c[1]) == [
        (
            "FieldValueInvalid",
            "spec.choice",
            'Invalid value: {"a":"x","b":"y"}: spec.choice in body must match exactly one '
            "schema in oneOf",
        ),
        ("FieldValueDuplicate", "spec.items[1]", 'Duplicate value: {"key":"a"}'),
        ("FieldValueTooLong", "spec.name", "Too long: may not be more than 5 bytes"),
        (
            "FieldValueTypeInvalid",
            "spec.opts.k",
            'Invalid value: "string": spec.opts.k in body must be of type integer: "string"',
        ),
        (
            "FieldValueTypeInvalid",
            "spec.port",
            'Invalid value: "number": spec.port in body must be of type int-or-string: "number"',
        ),
        (
            "FieldValueInvalid",
            "spec.weight",
            "Invalid value: 100: spec.weight in body should be less than 100",
        ),
    ]
    assert validate({"spec": {"name": "a", "weight": -1, "items": "x"}}, SCHEMA) == [
        (
            "FieldValueInvalid",
            "spec.name",
            'Invalid value: "a": spec.name in body should be at least 2 chars long',
        ),
        (
            "FieldValueInvalid",
            "spec.weight",
            "Invalid value: -1: spec.weight in body should be greater than or equal to 0",
        ),
        (
            "FieldValueTypeInvalid",
            "spec.items",
            'Invalid value: "string": spec.items in body must be of type array: "string"',
        ),
    ]
    assert validate({"spec": {"name": "ok", "port": "http", "choice": {"b": "y"}}}, SCHEMA) == []
    assert validate({"spec": {"name": "ok", "port": 8080}}, SCHEMA) == []
    missing = validate({"spec": {}}, SCHEMA)
    assert missing == [("FieldValueRequired", "spec.name", "Required value")]


def test_label_and_field_selectors() -> None:
    sel = parse_label_selector("app in (a, b),tier!=db,env,!legacy")
    assert sel({"app": "a", "tier": "web", "env": "x"})
    assert not sel({"app": "c", "tier": "web", "env": "x"})
    assert not sel({"app": "a", "tier": "db", "env": "x"})
    assert not sel({"app": "a", "env": "x", "legacy": "1"})
    assert not sel({"app": "a"})
    assert parse_label_selector("app notin (a)")({"x": "1"})
    fields = parse_field_selector("metadata.name=n,metadata.namespace!=kube-system")
    assert fields({"metadata": {"name": "n", "namespace": "default"}})
    assert not fields({"metadata": {"name": "n", "namespace": "kube-system"}})
