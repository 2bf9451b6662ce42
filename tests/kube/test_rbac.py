"""The install manifests: least privilege, no wildcards, and in sync with examples/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from rollouts.kube.rbac import install_manifests

REPO = Path(__file__).resolve().parents[2]


def test_rules_have_no_wildcards_and_grant_no_secret_writes_or_foreign_deletes() -> None:
    roles = [d for d in install_manifests() if d["kind"] in ("ClusterRole", "Role")]
    rules = [rule for role in roles for rule in role["rules"]]
    assert rules
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert [r["verbs"] for r in secrets] == [["get"]]
    deletable = sorted(res for r in rules if "delete" in r["verbs"] for res in r["resources"])
    assert deletable == ["analysisruns", "pods", "replicasets"], \
        "only what a Rollout owns (and pods, for restartAt) may be deleted"
    writable_routes = {res: r["verbs"] for r in rules for res in r["resources"]
                       if res in ("httproutes", "grpcroutes")}
    assert all("create" not in v and "delete" not in v for v in writable_routes.values()), \
        "the user's routes are updated, never created or deleted"
    # every rule naming a route kind (the dict above keeps only the last one per kind, and
    # its check holds when no rule names routes at all)
    route_rules = sorted((res, r["verbs"]) for r in rules for res in r["resources"]
                         if res in ("httproutes", "grpcroutes"))  # fmt: skip
    assert route_rules == [("grpcroutes", ["get", "list", "watch", "update"]),
                           ("httproutes", ["get", "list", "watch", "update"])]  # fmt: skip


def test_manifests_hold_namespace_crds_identity_rbac_and_deployment() -> None:
    kinds = [d["kind"] for d in install_manifests()]
    assert kinds[0] == "Namespace"
    assert kinds.count("CustomResourceDefinition") == 4
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                 "Deployment"):
        assert kind in kinds


def test_examples_install_is_what_rollouts_install_prints() -> None:
    printed = subprocess.run([sys.executable, "-m", "rollouts.cli.main", "install"],
                             capture_output=True, text=True, check=True).stdout
    assert printed == (REPO / "examples" / "install" / "rollouts.yaml").read_text(), \
        "run `rollouts install > examples/install/rollouts.yaml`"
    assert [d["kind"] for d in yaml.safe_load_all(printed)] == [
        d["kind"] for d in install_manifests()]
