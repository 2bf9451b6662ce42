"""Fixtures for the local-mode tests: an embedded API server, kubectl, a test CRD."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.local.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
GATEWAY_CRDS = REPO.parent / "shared" / "gateway-api" / "v1.6.1"


def find_tool(name: str) -> str | None:
    """``name`` from the repository's ``.tools/bin`` (scripts/fetch_kubectl.py), else PATH."""
    local = REPO / ".tools" / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.rollouts.dev"},
    "spec": {
        "group": "test.rollouts.dev",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "description": "A Widget is a test resource.",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "Desired state of the widget.",
                                "required": ["size"],
                                "properties": {
                                    "size": {
                                        "type": "string",
                                        "enum": ["small", "large"],
                                        "description": "How big the widget is.",
                                    },
                                    "replicas": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "maximum": 10,
                                        "default": 1,
                                    },
                                    "color": {"type": "string", "pattern": "^[a-z]+$"},
                                    "tags": {
                                        "type": "array",
                                        "maxItems": 2,
                                        "items": {"type": "string"},
                                    },
                                    "weight": {"type": "number"},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "selector": {"type": "string"},
                                    "phase": {"type": "string"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[ServerThread]:
    """A fresh in-memory API server on a random loopback port."""
    with ServerThread(kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.5) as srv:
        yield srv


@dataclass
class Kubectl:
    binary: str
    env: dict[str, str]

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
            )
        return proc

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.run(*args, input=input).stdout

    def apply(self, obj: dict[str, Any] | list[dict[str, Any]]) -> str:
        docs = obj if isinstance(obj, list) else [obj]
        return self("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def get(self, *args: str) -> Any:
        return yaml.safe_load(self("get", *args, "-o", "yaml"))

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.binary, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


def kubectl_for(kubeconfig: Path, home: Path) -> Kubectl:
    """The real kubectl using ``kubeconfig``, with its cache under ``home``; the test is
    skipped without kubectl outside CI."""
    binary = find_tool("kubectl")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is missing: run python3 scripts/fetch_kubectl.py")
        pytest.skip("kubectl not found (run python3 scripts/fetch_kubectl.py)")
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "KUBECACHEDIR": str(home / "kubecache"),
        "HOME": str(home),
    }
    return Kubectl(binary, env)


@pytest.fixture
def kubectl(api_server: ServerThread, tmp_path: Path) -> Kubectl:
    """The real kubectl, configured for ``api_server``."""
    return kubectl_for(api_server.kubeconfig, tmp_path)
