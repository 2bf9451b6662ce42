"""The Gateway API objects in examples/ fit the upstream CRDs (standard channel v1.6.1),
so that the examples apply to a real cluster as they are."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT.parent / "shared" / "gateway-api" / "v1.6.1"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _upstream_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in UPSTREAM.glob("*.yaml"):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                api_version = f"{spec['group']}/{version['name']}"
                schemas[(api_version, spec["names"]["kind"])] = version["schema"][
                    "openAPIV3Schema"]
    return schemas


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_gateway_api_objects_fit_the_upstream_schema(path: Path) -> None:
    if not UPSTREAM.is_dir():
        pytest.skip("the upstream Gateway API CRDs are not beside the project")
    schema_mod = pytest.importorskip("rollouts.local.schema")
    schemas = _upstream_schemas()
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if isinstance(d, dict) and str(d.get("apiVersion", "")).startswith(
                "gateway.networking.k8s.io/")]
    for doc in docs:
        schema = schemas[(doc["apiVersion"], doc["kind"])]
        stored = copy.deepcopy(doc)
        assert schema_mod.prune(stored, schema) == [], doc["metadata"]["name"]
        schema_mod.apply_defaults(stored, schema)
        assert schema_mod.validate(stored, schema) == [], doc["metadata"]["name"]


def test_every_rollout_example_routes_through_an_httproute_of_its_own_file() -> None:
    for path in EXAMPLES:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))
                if isinstance(d, dict)]
        routes = {d["metadata"]["name"]: d for d in docs if d["kind"] == "HTTPRoute"}
        services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
        for rollout in (d for d in docs if d["kind"] == "Rollout"):
            canary = rollout["spec"]["strategy"]["canary"]
            assert {canary["canaryService"], canary["stableService"]} <= services, path.name
            for ref in canary["trafficRouting"]["gatewayAPI"]["httpRoutes"]:
                route = routes[ref["name"]]
                backends = {b["name"] for rule in route["spec"]["rules"]
                            for b in rule["backendRefs"]}
                assert {canary["canaryService"], canary["stableService"]} <= backends
