"""The real helm installs, upgrades and uninstalls a chart on the local control plane."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from rollouts.local.testing import ServerThread

from .conftest import Kubectl, find_tool

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\nversion: v1\n",
    "templates/app.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: app
        image: rollouts-demo:{{ .Values.version }}
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  version: {{ .Values.version }}
""",
}


@pytest.mark.needs_kubectl
def test_helm_install_upgrade_uninstall(tmp_path: Path) -> None:
    helm, kubectl_bin = find_tool("helm"), find_tool("kubectl")
    if helm is None or kubectl_bin is None:
        if os.environ.get("CI"):
            pytest.fail("helm/kubectl missing: run python3 scripts/fetch_kubectl.py")
        pytest.skip("helm or kubectl not found (run python3 scripts/fetch_kubectl.py)")
    chart = tmp_path / "chart"
    for name, text in CHART.items():
        (chart / name).parent.mkdir(parents=True, exist_ok=True)
        (chart / name).write_text(text)
    with ServerThread(kubeconfig=tmp_path / "kc", workloads=True, max_grace=5) as srv:
        env = {
            **os.environ,
            "KUBECONFIG": str(srv.kubeconfig),
            "HOME": str(tmp_path),
            "KUBECACHEDIR": str(tmp_path / "cache"),
            "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
            "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
            "HELM_DATA_HOME": str(tmp_path / "helm-data"),
        }
        kubectl = Kubectl(kubectl_bin, env)

        def run_helm(*args: str) -> str:
            proc = subprocess.run(
                [helm, *args], capture_output=True, text=True, env=env, timeout=120
            )
            assert proc.returncode == 0, proc.stderr
            return proc.stdout

        try:
            run_helm("install", "web", str(chart), "--wait", "--timeout", "60s")
            assert kubectl.get("deploy", "web")["status"]["availableReplicas"] == 1
            run_helm(
                "upgrade",
                "web",
                str(chart),
                "--set",
                "replicas=2,version=v2",
                "--wait",
                "--timeout",
                "60s",
            )
            assert kubectl.get("configmap", "web-settings")["data"] == {"version": "v2"}
            dep = kubectl.get("deploy", "web")
            assert dep["status"]["updatedReplicas"] == 2
            assert dep["spec"]["replicas"] == 2
            assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "rollouts-demo:v2"
            assert "deployed" in run_helm("status", "web")
            # helm keeps its releases in Secrets (sent as protobuf).
            secrets = kubectl("get", "secrets", "-l", "owner=helm", "-o", "name").split()
            assert len(secrets) == 2
            run_helm("uninstall", "web", "--wait", "--timeout", "60s")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                left = kubectl("get", "deploy,rs,pods,svc,cm,secrets", "-o", "name").split()
                if not [n for n in left if "kube-root" not in n]:
                    break
                time.sleep(0.2)
            assert [n for n in left if "kube-root" not in n] == []
        finally:
            subprocess.run([helm, "uninstall", "web"], capture_output=True, env=env, timeout=60)
