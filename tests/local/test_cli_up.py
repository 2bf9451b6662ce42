"""``rollouts local up`` in a subprocess, driven by the real kubectl (the issue's scenario)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rollouts.cli.local import local

from .conftest import Kubectl, kubectl_for

UP = [sys.executable, "-c", "from rollouts.cli.local import local; local()", "up"]

DEMO = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 3
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      containers:
      - name: app
        image: rollouts-demo:v1
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  selector: {app: demo}
  ports:
  - {name: http, port: 80, targetPort: http}
"""


@dataclass
class Up:
    proc: subprocess.Popen[str]
    kubeconfig: Path
    data_dir: Path


def _start(data_dir: Path) -> Up:
    proc = subprocess.Popen(
        [*UP, "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.match(r"kubeconfig: (.+)$", line.strip())
        if m:
            return Up(proc, Path(m.group(1)), data_dir)
    proc.kill()
    raise AssertionError("local up did not print its kubeconfig:\n" + "".join(lines))


def _stop(up: Up) -> None:
    if up.proc.poll() is None:
        up.proc.send_signal(signal.SIGTERM)
        try:
            up.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            up.proc.kill()
            up.proc.wait()


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[Up]:
    up = _start(tmp_path / "data")
    try:
        yield up
    finally:
        _stop(up)


@pytest.fixture
def kctl(local_up: Up, tmp_path: Path) -> Kubectl:
    return kubectl_for(local_up.kubeconfig, tmp_path)


def _answers(ip: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def _slice_ips(kctl: Kubectl) -> list[str]:
    es = kctl.get("endpointslices", "-l", "kubernetes.io/service-name=demo")["items"]
    return sorted(a for e in es[0]["endpoints"] for a in e["addresses"]) if es else []


@pytest.mark.needs_kubectl
def test_local_up_runs_a_deployment_of_the_demo_app(local_up: Up, kctl: Kubectl) -> None:
    assert local_up.kubeconfig == local_up.data_dir / "kubeconfig"
    kctl("apply", "-f", "-", input=DEMO)
    kctl("rollout", "status", "deployment/demo", "--timeout=60s")
    deadline = time.monotonic() + 20
    while len(_slice_ips(kctl)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    ips = _slice_ips(kctl)
    assert len(ips) == 3 and len(set(ips)) == 3
    for ip in ips:
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=2) as resp:
            assert yaml.safe_load(resp.read())["version"] == "v1"
    kctl("scale", "deployment/demo", "--replicas=1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(_slice_ips(kctl)) == 1 and sum(_answers(ip) for ip in ips) == 1:
            break
        time.sleep(0.2)
    assert len(_slice_ips(kctl)) == 1
    assert sum(_answers(ip) for ip in ips) == 1  # two processes stopped
    pods = kctl.get("pods", "-l", "app=demo")["items"]
    assert len(pods) == 1
    # State survives a restart, and the pod's process comes back.
    _stop(local_up)
    assert not any(_answers(ip) for ip in ips)
    again = _start(local_up.data_dir)
    try:
        kctl.env["KUBECONFIG"] = str(again.kubeconfig)
        assert [p["metadata"]["name"] for p in kctl.get("pods", "-l", "app=demo")["items"]] == [
            pods[0]["metadata"]["name"]
        ]
        deadline = time.monotonic() + 20
        while not any(_answers(ip) for ip in ips) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sum(_answers(ip) for ip in ips) == 1
    finally:
        _stop(again)


def test_local_up_refuses_non_loopback(tmp_path: Path) -> None:
    result = CliRunner().invoke(local, ["up", "--data-dir", str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "loopback" in result.output


def test_pod_processes_die_with_a_killed_control_plane(tmp_path: Path) -> None:
    from kubernetes import client, config

    up = _start(tmp_path / "data")
    try:
        api = config.new_client_from_config(config_file=str(up.kubeconfig))
        demo = yaml.safe_load(DEMO.split("---")[0])
        demo["spec"]["replicas"] = 1
        client.AppsV1Api(api).create_namespaced_deployment("default", demo)
        core = client.CoreV1Api(api)
        ip = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (ip and _answers(ip)):
            pods = core.list_namespaced_pod("default").items
            ip = pods[0].status.pod_ip if pods and pods[0].status else None
            time.sleep(0.2)
        assert ip and _answers(ip)
        api.close()
        up.proc.kill()  # SIGKILL: no chance to stop its pods
        up.proc.wait(10)
        deadline = time.monotonic() + 15
        while _answers(ip) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _answers(ip)
    finally:
        _stop(up)
