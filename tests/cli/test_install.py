"""`rollouts install | kubectl apply -f -` against local mode, with the real kubectl."""

from __future__ import annotations

import os
import subprocess
import sys

from rollouts.local.testing import ServerThread
from tests.tools import REPO, require


def kubectl() -> str:
    local = REPO / ".tools" / "bin" / "kubectl"
    found = str(local) if local.is_file() and os.access(local, os.X_OK) else None
    return require("kubectl", found, "python3 scripts/fetch_kubectl.py")


def test_install_applies_with_kubectl() -> None:
    binary = kubectl()
    manifests = subprocess.run([sys.executable, "-m", "rollouts.cli.main", "install"],
                               capture_output=True, text=True, check=True).stdout
    with ServerThread() as server:
        applied = subprocess.run([binary, "--kubeconfig", str(server.kubeconfig), "apply",
                                  "-f", "-"], input=manifests, capture_output=True, text=True,
                                 check=False)
        assert applied.returncode == 0, applied.stderr
        for line in ("namespace/rollouts-system created",
                     "customresourcedefinition.apiextensions.k8s.io/rollouts.rollouts.dev "
                     "created",
                     "clusterrole.rbac.authorization.k8s.io/rollouts-operator created",
                     "deployment.apps/rollouts-operator created"):
            assert line in applied.stdout, applied.stdout
        rules = subprocess.run([binary, "--kubeconfig", str(server.kubeconfig), "get",
                                "clusterrole", "rollouts-operator", "-o",
                                "jsonpath={.rules[*].resources}"],
                               capture_output=True, text=True, check=True).stdout
        assert "rollouts/status" in rules and "*" not in rules
        again = subprocess.run([binary, "--kubeconfig", str(server.kubeconfig), "apply",
                                "-f", "-"], input=manifests, capture_output=True, text=True,
                               check=False)
        assert again.returncode == 0, again.stderr
        lines = again.stdout.splitlines()
        assert lines and all(line.endswith(" unchanged") for line in lines), again.stdout
