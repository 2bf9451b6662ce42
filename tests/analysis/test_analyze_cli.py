"""``rollouts analyze TEMPLATE --arg k=v`` against a real Prometheus."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rollouts.cli.analyze import analyze

from .conftest import PROM_PASSWORD, PROM_USER

TEMPLATE = """\
apiVersion: rollouts.dev/v1alpha1
kind: AnalysisTemplate
metadata:
  name: canary-health
spec:
  args:
    - name: service
    - name: address
    - name: password
  metrics:
    - name: success-rate
      count: 2
      interval: 300ms
      consecutiveErrorLimit: 1
      successCondition: CONDITION
      provider:
        prometheus:
          address: "{{args.address}}"
          query: canary_success_rate{service="{{args.service}}"}
          timeout: 5
          authentication:
            basic: {username: USER, password: "{{args.password}}"}
"""


def _file(tmp_path: Path, condition: str = "result[0] >= 0.95") -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace("CONDITION", condition).replace("USER", PROM_USER))
    return path


def _invoke(*args: str):
    return CliRunner().invoke(analyze, list(args), catch_exceptions=False)


@pytest.mark.needs_prometheus
@pytest.mark.timeout(60)
def test_successful_run_prints_measurements_and_exits_zero(tmp_path, prometheus):
    result = _invoke(str(_file(tmp_path)), "--arg", "service=healthy",
                     "--arg", f"address={prometheus.url}", "--arg", f"password={PROM_PASSWORD}")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    measured = [line.split()[1:4] for line in lines if len(line.split()) >= 4]
    assert measured.count(["success-rate", "Successful", "value=[0.99]"]) == 2
    assert "AnalysisRun canary-health-cli: Successful" in result.output


@pytest.mark.needs_prometheus
@pytest.mark.timeout(60)
def test_failed_and_error_runs_exit_non_zero_with_the_phase(tmp_path, prometheus):
    common = ["--arg", f"address={prometheus.url}", "--arg", f"password={PROM_PASSWORD}"]
    result = _invoke(str(_file(tmp_path)), "--arg", "service=mediocre", *common)
    assert result.exit_code == 1
    assert "AnalysisRun canary-health-cli: Failed" in result.output
    result = _invoke(str(_file(tmp_path)), "--arg", "service=ghost", *common)
    assert result.exit_code == 1
    assert "no data for query" in result.output
    assert "AnalysisRun canary-health-cli: Error" in result.output


def test_missing_arg_is_an_error_phase(tmp_path):
    result = _invoke(str(_file(tmp_path)), "--arg", "service=x")
    assert result.exit_code == 1
    assert "Error" in result.output and "'address' has no value" in result.output


def test_invalid_condition_is_rejected_with_its_column(tmp_path):
    result = CliRunner().invoke(analyze, [str(_file(tmp_path, "result[0] >=")), "-a", "x=1"])
    assert result.exit_code == 2
    assert "successCondition" in result.output and "column 13" in result.output


def test_bad_arg_syntax_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(analyze, [str(_file(tmp_path)), "--arg", "novalue"])
    assert result.exit_code == 2 and "NAME=VALUE" in result.output
