"""``rollouts simulate`` names every route the Rollout re-weights, HTTPRoutes first."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rollouts.cli.main import cli

ROLLOUT = """\
apiVersion: rollouts.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: web:v1}]
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      trafficRouting:
        gatewayAPI:
          grpcRoutes: [{name: web-grpc}]
          httpRoutes: [{name: web-http, namespace: other}]
      steps:
        - setWeight: 50
"""


def test_header_lists_http_then_grpc_routes(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(ROLLOUT, encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].endswith(
        "traffic via HTTPRoute web-http, GRPCRoute web-grpc")
