"""End-to-end fixtures: local mode (API server + workload runner) and the operator."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from rollouts.kube.api import Kube, load_api_client
from rollouts.kube.run import run_operator
from rollouts.local.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
GATEWAY_CRDS = REPO.parent / "shared" / "gateway-api" / "v1.6.1"
CRD: tuple[str, str] = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30.0, every: float = 0.1,
               what: str | Callable[[], str] = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    said = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout}s waiting for {said}; last: {last!r}")


class Cluster:
    """Local mode (or the cluster of ROLLOUTS_E2E_KUBECONFIG) with our CRDs and the Gateway
    API route CRDs installed."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.kube = Kube(load_api_client(self.kubeconfig))

    def apply(self, documents: list[dict[str, Any]], namespace: str = "default") -> None:
        for doc in documents:
            kind = (doc["apiVersion"], doc["kind"])
            scoped = None if doc["kind"] in ("CustomResourceDefinition", "Namespace",
                                             "ClusterAnalysisTemplate") else namespace
            if (doc["kind"] == "CustomResourceDefinition"
                    and self.kube.find(kind, doc["metadata"]["name"]) is not None):
                continue  # a real cluster may have them already
            self.kube.create(kind, doc, scoped)

    def apply_yaml(self, text: str, namespace: str = "default") -> None:
        self.apply([d for d in yaml.safe_load_all(text) if d], namespace)


def _install(c: Cluster) -> Cluster:
    crds = [*sorted((REPO / "crds").glob("*.yaml")), GATEWAY_CRDS / "httproutes.yaml"]
    c.apply([yaml.safe_load(p.read_text()) for p in crds])
    return c


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """Local mode, or the real cluster whose kubeconfig ROLLOUTS_E2E_KUBECONFIG names (it
    must run the demo image rollouts-demo:VERSION, built from this repository)."""
    real = os.environ.get("ROLLOUTS_E2E_KUBECONFIG")
    if real:
        yield _install(Cluster(real))
        return
    with ServerThread(workloads=True) as server:
        yield _install(Cluster(str(server.kubeconfig)))


class RunningOperator:
    def __init__(self, cluster: Cluster, **options: Any) -> None:
        self.kube = Kube(load_api_client(cluster.kubeconfig))
        self.options = options
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="operator")
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(run_operator(self.kube, stop=self.stop_flag, **self.options))
        except BaseException as error:  # surfaced by stop()
            self.error = error

    def start(self) -> RunningOperator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_flag.set()
        self.thread.join(timeout=15)
        if self.thread.is_alive():
            import faulthandler
            faulthandler.dump_traceback()
        assert not self.thread.is_alive(), "operator did not stop"


@pytest.fixture
def operator(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningOperator]:
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    running = RunningOperator(cluster).start()
    yield running
    running.stop()
    if running.error is not None:
        raise running.error
