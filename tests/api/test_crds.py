"""The generated CRDs: reproducible, structural, and what kubectl and an HPA need."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.api.crds import (
    CRD_KINDS,
    SchemaError,
    all_crds,
    crd_filename,
    structural_schema,
)
from rollouts.api.rollout import Rollout
from rollouts.api.structural import structural_problems
from rollouts.api.validation import parse_object

ROOT = Path(__file__).resolve().parents[2]
CRDS_DIR = ROOT / "crds"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _by_kind() -> dict[str, dict[str, Any]]:
    return {d["spec"]["names"]["kind"]: d for d in all_crds()}


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = _by_kind()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)] if isinstance(node, dict) else []
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            found += _walk(child, f"{path}.{name}")
        if isinstance(node.get("additionalProperties"), dict):
            found += _walk(node["additionalProperties"], f"{path}.*")
        if "items" in node:
            found += _walk(node["items"], f"{path}[]")
    return found


def test_crds_directory_matches_the_models() -> None:
    """`rollouts crds` output is what is committed in crds/ (regenerate after model edits)."""
    from rollouts.cli.crds import render_all

    expected = render_all()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in CRDS_DIR.glob("*.yaml")}
    assert sorted(on_disk) == sorted(expected)
    stale = [name for name, text in expected.items() if on_disk[name] != text]
    assert not stale, f"crds/ is out of date, run `rollouts crds`: {stale}"


def test_committed_files_parse_back_to_the_generated_definitions() -> None:
    for definition in all_crds():
        path = CRDS_DIR / crd_filename(definition)
        assert list(yaml.safe_load_all(path.read_text(encoding="utf-8"))) == [definition]


def test_one_crd_per_kind_with_names_and_scope() -> None:
    crds = _by_kind()
    assert set(crds) == {"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"}
    expected = {
        "Rollout": ("rollouts", ["ro"], "Namespaced"),
        "AnalysisTemplate": ("analysistemplates", ["at"], "Namespaced"),
        "ClusterAnalysisTemplate": ("clusteranalysistemplates", ["cat"], "Cluster"),
        "AnalysisRun": ("analysisruns", ["ar"], "Namespaced"),
    }
    for kind, (plural, short, scope) in expected.items():
        definition = crds[kind]
        names = definition["spec"]["names"]
        assert definition["metadata"]["name"] == f"{plural}.rollouts.dev"
        assert definition["spec"]["group"] == "rollouts.dev"
        assert (names["plural"], names["shortNames"], definition["spec"]["scope"]) == (
            plural, short, scope)
        assert names["singular"] == kind.lower()
        assert names["listKind"] == f"{kind}List"
        # A category named like a plural would hijack `kubectl get rollouts`.
        assert names["categories"] == ["rollouts-dev"]
        [version] = definition["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == (
            "v1alpha1", True, True)


def test_rollout_has_status_and_scale_subresources_for_an_hpa() -> None:
    version = _by_kind()["Rollout"]["spec"]["versions"][0]
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    # Each path of the scale subresource names a field of the schema with the right type.
    schema = _schema("Rollout")
    assert schema["properties"]["spec"]["properties"]["replicas"]["type"] == "integer"
    assert schema["properties"]["status"]["properties"]["replicas"]["type"] == "integer"
    assert schema["properties"]["status"]["properties"]["selector"]["type"] == "string"


def test_analysis_run_has_a_status_subresource_and_templates_have_none() -> None:
    crds = _by_kind()
    assert crds["AnalysisRun"]["spec"]["versions"][0]["subresources"] == {"status": {}}
    for kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
        assert "subresources" not in crds[kind]["spec"]["versions"][0]


def _resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in json_path.strip(".").split("."):
        if node is None:
            return None
        node = (node.get("properties") or {}).get(part)
    return node


def test_printer_columns_point_at_real_fields() -> None:
    crds = _by_kind()
    columns = {kind: crds[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
               for kind in crds}
    names = [c["name"] for c in columns["Rollout"] if c.get("priority", 0) == 0]
    assert names == ["Desired", "Current", "Up-to-date", "Available", "Phase", "Step", "Weight",
                     "Age"]
    assert [c["name"] for c in columns["AnalysisRun"] if not c.get("priority")] == [
        "Phase", "Age"]
    assert [c["name"] for c in columns["AnalysisTemplate"]] == ["Age"]
    assert [c["name"] for c in columns["ClusterAnalysisTemplate"]] == ["Age"]
    kinds = {"integer": "integer", "number": "number", "string": "string"}
    for kind, cols in columns.items():
        schema = _schema(kind)
        for column in cols:
            if column["jsonPath"] == ".metadata.creationTimestamp":
                assert column["type"] == "date"
                continue
            field = _resolve(schema, column["jsonPath"])
            assert field is not None, f"{kind} column {column['name']}: {column['jsonPath']}"
            assert kinds[field["type"]] == column["type"], column


@pytest.mark.parametrize("kind", [k.kind for k in CRD_KINDS])
def test_schemas_are_structural(kind: str) -> None:
    schema = _schema(kind)
    assert structural_problems(schema) == []
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text
    assert '"null"' not in text
    assert '"title"' not in text
    for path, node in _walk(schema):
        if "anyOf" in node:  # only Kubernetes' own int-or-string pattern
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
            assert node["x-kubernetes-int-or-string"] is True, path
        assert node.get("additionalProperties") is not False, path
        assert node.get("default", "unset") is not None, path
        has_escape = node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields")
        assert "type" in node or has_escape, f"{kind}{path} has no type"


def test_root_metadata_is_plain_object_and_spec_is_required() -> None:
    for kind in ("Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"):
        schema = _schema(kind)
        assert schema["properties"]["metadata"] == {"type": "object"}
        assert schema["properties"]["apiVersion"]["type"] == "string"
        assert schema["properties"]["kind"]["type"] == "string"
        assert schema["required"] == ["spec"]
        assert schema.get("description"), kind


def _shape(node: dict[str, Any]) -> dict[str, Any]:
    """A schema node without its description (documented fields carry one)."""
    return {k: v for k, v in node.items() if k != "description"}


def test_kubernetes_shapes() -> None:
    schema = _schema("Rollout")
    spec = schema["properties"]["spec"]["properties"]
    canary = spec["strategy"]["properties"]["canary"]["properties"]
    step = canary["steps"]["items"]["properties"]
    # intstr and durations
    assert _shape(canary["maxSurge"]) == {"anyOf": [{"type": "integer"}, {"type": "string"}],
                                  "x-kubernetes-int-or-string": True, "default": "25%"}
    assert step["pause"]["properties"]["duration"]["x-kubernetes-int-or-string"] is True
    # fractional weights are numbers with bounds
    assert _shape(step["setWeight"]) == {"type": "number", "minimum": 0, "maximum": 100}
    # the pod template is kept as it is, and only it (in spec)
    assert _shape(spec["template"]) == {"type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True}
    # label maps
    assert _shape(spec["selector"]["properties"]["matchLabels"]) == {
        "type": "object", "additionalProperties": {"type": "string"}}
    # enums for Literals, date-time for datetimes, real defaults kept
    assert spec["workloadRef"]["properties"]["scaleDown"]["enum"] == [
        "never", "onsuccess", "progressively"]
    assert spec["workloadRef"]["properties"]["scaleDown"]["default"] == "never"
    assert _shape(spec["restartAt"]) == {"type": "string", "format": "date-time"}
    assert spec["replicas"]["default"] == 1
    assert spec["progressDeadlineSeconds"]["default"] == 600
    status = schema["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == ["Healthy", "Progressing", "Paused", "Degraded"]
    # descriptions come from the models' docstrings
    assert "pod template" in spec["workloadRef"]["description"]
    # required fields of nested objects
    assert canary["steps"]["items"]["properties"]["analysis"]["properties"]["templates"][
        "minItems"] == 1


def test_only_free_form_fields_preserve_unknown_fields() -> None:
    preserved = {
        kind: sorted(path for path, node in _walk(_schema(kind))
                     if node.get("x-kubernetes-preserve-unknown-fields"))
        for kind in ("Rollout", "AnalysisTemplate", "AnalysisRun")
    }
    assert preserved["Rollout"] == [".spec.template"]
    # web.jsonBody is any JSON value
    assert all(p.endswith(".jsonBody") for p in preserved["AnalysisTemplate"])
    assert preserved["AnalysisTemplate"]


def test_defaults_the_api_server_must_not_apply_are_left_out() -> None:
    """scaleDownDelaySeconds conflicts with dynamicStableScale only when the user set it."""
    canary = _schema("Rollout")["properties"]["spec"]["properties"]["strategy"]["properties"][
        "canary"]["properties"]
    assert "default" not in canary["scaleDownDelaySeconds"]
    assert canary["abortScaleDownDelaySeconds"]["default"] == 30


def test_defaults_fit_their_schema() -> None:
    for kind in CRD_KINDS:
        for path, node in _walk(_schema(kind.kind)):
            if "default" in node and node.get("enum"):
                assert node["default"] in node["enum"], path


def test_the_checker_catches_non_structural_schemas() -> None:
    """structural_problems would notice if the generator regressed."""
    good = _schema("Rollout")
    broken = copy.deepcopy(good)
    broken["properties"]["spec"]["properties"]["replicas"] = {"$ref": "#/$defs/X"}
    assert any("$ref" in p for p in structural_problems(broken))
    broken = copy.deepcopy(good)
    broken["properties"]["spec"]["properties"]["paused"] = {"description": "no type"}
    assert any("spec.paused: type is required" in p for p in structural_problems(broken))
    broken = copy.deepcopy(good)
    broken["properties"]["spec"]["properties"]["x"] = {
        "anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert structural_problems(broken)
    broken = copy.deepcopy(good)
    broken["properties"]["spec"]["additionalProperties"] = False
    assert any("additionalProperties" in p for p in structural_problems(broken))
    broken = copy.deepcopy(good)
    broken["properties"]["spec"]["additionalProperties"] = {"type": "string"}
    assert any("mutually exclusive" in p for p in structural_problems(broken))
    broken = copy.deepcopy(good)
    broken["properties"]["spec"]["properties"]["x"] = {
        "type": "array", "items": {"type": "string"}, "uniqueItems": True}
    assert any("uniqueItems" in p for p in structural_problems(broken))
    broken = copy.deepcopy(good)
    broken["properties"]["metadata"] = {"type": "object", "properties": {
        "labels": {"type": "object"}}}
    assert any(p.startswith("metadata") for p in structural_problems(broken))
    broken = copy.deepcopy(good)
    broken["properties"]["spec"]["properties"]["replicas"]["default"] = "one"
    assert any("default" in p for p in structural_problems(broken))


def test_unions_without_a_structural_form_are_refused() -> None:
    from pydantic import BaseModel

    class Odd(BaseModel):
        value: int | list[str]

    with pytest.raises(SchemaError, match="value"):
        structural_schema(Odd)


def test_crd_loads_as_the_upstream_type_without_losing_anything() -> None:
    """Round trip through the kubernetes client's V1CustomResourceDefinition: every key we
    write is a field of the real API type (unknown keys would be dropped)."""
    client = pytest.importorskip("kubernetes.client")

    api = client.ApiClient()
    # The public deserialize() changed signature across client versions; the private
    # helper it calls has not.
    deserialize = api._ApiClient__deserialize
    for definition in all_crds():
        obj = deserialize(copy.deepcopy(definition), "V1CustomResourceDefinition")
        assert isinstance(obj, client.V1CustomResourceDefinition)
        assert api.sanitize_for_serialization(obj) == definition


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if isinstance(d, dict) and str(d.get("apiVersion", "")).startswith("rollouts.dev/")]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_survive_the_api_server(path: Path) -> None:
    """What the API server does with the CRD schema (pruning, defaulting, validation) keeps
    every example intact and valid: no field is pruned, defaults do not make it invalid."""
    schema_mod = pytest.importorskip("rollouts.local.schema")
    for doc in _docs(path):
        schema = _schema(doc["kind"])
        stored = copy.deepcopy(doc)
        assert schema_mod.prune(stored, schema) == []
        schema_mod.apply_defaults(stored, schema)
        assert schema_mod.validate(stored, schema) == []
        model, problems = parse_object(stored)
        assert problems == []
        assert model is not None


def test_server_defaults_keep_a_dynamic_stable_scale_rollout_valid() -> None:
    schema_mod = pytest.importorskip("rollouts.local.schema")
    doc = yaml.safe_load((ROOT / "examples" / "rollout-canary.yaml").read_text().split(
        "\n---\n")[-1])
    doc["spec"]["strategy"]["canary"]["dynamicStableScale"] = True
    assert parse_object(doc)[1] == []
    schema_mod.apply_defaults(doc, _schema("Rollout"))
    assert parse_object(doc)[1] == []
    assert isinstance(parse_object(doc)[0], Rollout)


def test_pydantic_extras_get_their_kubernetes_form() -> None:
    from pydantic import BaseModel, Field

    class Extras(BaseModel):
        tags: set[str] = Field(default_factory=set, examples=[["a", "b"]])
        ratio: float = Field(default=0.5, gt=0, lt=1)

    schema = structural_schema(Extras)
    assert schema["properties"]["tags"] == {
        "type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set",
        "example": ["a", "b"]}
    assert schema["properties"]["ratio"] == {
        "type": "number", "default": 0.5, "minimum": 0, "exclusiveMinimum": True,
        "maximum": 1, "exclusiveMaximum": True}
    assert structural_problems(schema) == []


def test_free_form_and_empty_objects() -> None:
    from pydantic import BaseModel, ConfigDict

    class Empty(BaseModel):
        model_config = ConfigDict(extra="forbid")

    class Holder(BaseModel):
        empty: Empty
        free: dict[str, Any]
        anything: Any = None

    schema = structural_schema(Holder)
    assert schema["properties"] == {
        "empty": {"type": "object"},  # nothing in it survives pruning
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "anything": {"x-kubernetes-preserve-unknown-fields": True},
    }
    assert schema["required"] == ["empty", "free"]


def test_the_embedded_api_server_accepts_the_crds() -> None:
    local_crds = pytest.importorskip("rollouts.local.crds")
    for definition in all_crds():
        assert local_crds.validate_crd(copy.deepcopy(definition)) == [], definition[
            "metadata"]["name"]
