"""A canary whose analysis fails, measured by a real Prometheus scraping the demo app:
the Rollout aborts within one analysis interval, traffic goes back to stable in the same
reconcile, the phase is Degraded with the metric named, and retry starts it again (with
a fresh AnalysisRun, which fails again, since the canary still answers with errors)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from rollouts.kube import names
from tests.e2e.conftest import Cluster, RunningOperator, eventually
from tests.e2e.demo import canary_weight, manifests, patch_status, status
from tests.tools import free_port, prometheus_binary

QUERY = ('(sum(rate(demo_http_requests_total{version="{v}",code!~"5.."}[5s])) or vector(0))'
         ' / sum(rate(demo_http_requests_total{version="{v}"}[5s]))')
INTERVAL = 2


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    binary = prometheus_binary()
    port = free_port()
    targets = tmp_path / "targets.json"
    targets.write_text("[]")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n- job_name: demo\n  file_sd_configs:\n"
        f"  - files: ['{targets}']\n    refresh_interval: 1s\n")
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen([binary, f"--config.file={config}",
                                f"--storage.tsdb.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    eventually(lambda: _ready(url), 30, what="prometheus ready")
    yield url, targets
    process.terminate()
    process.wait(10)
    log.close()


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=1).ok
    except requests.RequestException:
        return False


def template(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate"},
        "spec": {"args": [{"name": "version"}], "metrics": [{
            "name": "success-rate", "interval": f"{INTERVAL}s", "count": 3,
            "initialDelay": "3s", "successCondition": "result[0] >= 0.9",
            "provider": {"prometheus": {"address": url,
                                        "query": QUERY.replace("{v}", "{{args.version}}")}},
        }]},
    }


class Traffic:
    """Keeps Prometheus's targets on the demo pods and sends each pod requests."""

    def __init__(self, cluster: Cluster, targets: Path) -> None:
        self.cluster, self.targets = cluster, targets
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def pods(self) -> list[str]:
        pods = self.cluster.kube.list(("v1", "Pod"), "default", "app=demo")
        return [f"{p['status']['podIP']}:8080" for p in pods
                if (p.get("status") or {}).get("podIP")]

    def _run(self) -> None:
        while not self.stop.is_set():
            pods = self.pods()
            staging = self.targets.with_suffix(".tmp")
            staging.write_text(json.dumps([{"targets": pods}]))
            staging.replace(self.targets)  # Prometheus never reads half a file
            for pod in pods:
                for _ in range(5):
                    with contextlib.suppress(requests.RequestException):
                        requests.get(f"http://{pod}/", timeout=1)
            time.sleep(0.1)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(5)


def test_failing_analysis_aborts_and_retry_restarts(
        cluster: Cluster, operator: RunningOperator,
        prometheus: tuple[str, Path]) -> None:
    url, targets = prometheus
    steps = [{"setWeight": 50},
             {"analysis": {"templates": [{"templateName": "success-rate"}],
                           "args": [{"name": "version", "value": "v2"}]}},
             {"setWeight": 100}]
    cluster.apply([template(url), *manifests(steps=steps)])
    with Traffic(cluster, targets):
        eventually(lambda: status(cluster).get("phase") == "Healthy", 60)
        rollout = cluster.kube.get(names.ROLLOUT, "demo", "default")
        container = rollout["spec"]["template"]["spec"]["containers"][0]
        container["image"] = "rollouts-demo:v2"
        container["env"] = [{"name": "ERROR_RATE", "value": "1.0"}]
        cluster.kube.patch(names.ROLLOUT, "demo", {"spec": {"template": {"spec": {
            "containers": [container]}}}}, "default")
        run_name = eventually(lambda: (status(cluster).get("canary") or {}).get(
            "currentStepAnalysisRunStatus", {}).get("name"), 60, what="analysis run started")
        failed_at = eventually(lambda: _first_failure(cluster, run_name), 60,
                               what="a failed measurement")
        eventually(lambda: status(cluster).get("abort") is True, INTERVAL + 5,
                   what="abort within one analysis interval of the failure")
        aborted = status(cluster)
        assert canary_weight(cluster) == 0, "traffic back to stable in the same reconcile"
        assert aborted["phase"] == "Degraded"
        assert "success-rate" in aborted["message"], aborted["message"]
        assert failed_at <= aborted["abortedAt"]
        # Retry: the same canary starts again from step 1, with a fresh analysis run.
        patch_status(cluster, {"abort": False})
        eventually(lambda: cluster.kube.find(names.ANALYSIS_RUN, f"{run_name}-retry1",
                                             "default"), 60, what="a fresh run on retry")
        retried = status(cluster)
        assert retried.get("abort") in (None, False)
        eventually(lambda: status(cluster).get("abort") is True, 60,
                   what="the still failing canary aborted again")
        assert canary_weight(cluster) == 0


def _first_failure(cluster: Cluster, run_name: str) -> str | None:
    run = cluster.kube.find(names.ANALYSIS_RUN, run_name, "default") or {}
    for result in (run.get("status") or {}).get("metricResults") or []:
        for measurement in result.get("measurements") or []:
            if measurement.get("phase") == "Failed":
                return str(measurement.get("finishedAt"))
    return None
