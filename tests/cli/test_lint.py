"""`rollouts lint`: what a user sees and the exit code CI relies on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rollouts.analysis.expr_functions import CLOSURE_FUNCTIONS, FUNCTIONS
from rollouts.cli.lint import lint, lint_text
from rollouts.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

GOOD = """\
apiVersion: rollouts.dev/v1alpha1
kind: Rollout
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: "web:v1"}]
  strategy:
    canary:
      steps:
        - setWeight: 20
        - pause: {duration: 30s}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
"""

BAD = GOOD.replace("setWeight: 20", "setWeight: 150").replace("duration: 30s",
                                                                "duration: 30 seconds")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_lint_is_registered_on_the_rollouts_command() -> None:
    result = CliRunner().invoke(cli, ["lint", "--help"])
    assert result.exit_code == 0
    assert "FILES" in result.output


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_passes(path: Path) -> None:
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 0, result.output
    checked = [line for line in result.output.splitlines() if line.endswith(": ok")]
    assert checked, "each example holds at least one rollouts.dev object"
    assert "no problems" in result.output.splitlines()[-1]


def test_examples_cover_what_the_issue_asks_for() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"rollout-canary.yaml", "rollout-header-routing.yaml", "rollout-fine-steps.yaml",
            "rollout-background-analysis.yaml", "analysistemplate-success-rate.yaml"} <= names
    for path in EXAMPLES:
        assert path.read_text(encoding="utf-8").startswith("# "), f"{path.name}: no comment"
    canary = (ROOT / "examples" / "rollout-canary.yaml").read_text(encoding="utf-8")
    assert "rollouts-demo:v1" in canary and "kind: HTTPRoute" in canary
    assert "setWeight: 0.5" in (ROOT / "examples" / "rollout-fine-steps.yaml").read_text()


def test_a_clean_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "web.yaml", GOOD)
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"{path}: Rollout shop/web: ok",
        "1 file, 1 object checked, 0 not checked: no problems",
    ]


def test_problems_name_file_object_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "web.yaml", BAD)
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (f"{path}: Rollout shop/web: spec.strategy.canary.steps[0].setWeight: "
            "Input should be less than or equal to 100") in lines
    assert any(line.startswith(
        f"{path}: Rollout shop/web: spec.strategy.canary.steps[1].pause.duration: "
        "invalid duration '30 seconds'") for line in lines)
    assert lines[-1] == "1 file, 1 object checked, 0 not checked: 2 problems in 1 object"


def test_other_kinds_are_noted_not_failed(tmp_path: Path) -> None:
    argo = GOOD.replace("rollouts.dev/v1alpha1", "argoproj.io/v1alpha1")
    path = _write(tmp_path, "all.yaml", f"{SERVICE}---\n{GOOD}---\n{argo}")
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        f"{path}: Service web: not checked (apiVersion v1 is not rollouts.dev)",
        f"{path}: Rollout shop/web: ok",
        f"{path}: Rollout shop/web: not checked (apiVersion argoproj.io/v1alpha1 is not "
        "rollouts.dev)",
        "1 file, 1 object checked, 2 not checked: no problems",
    ]


def test_wrong_version_of_our_group_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "v1.yaml", GOOD.replace("rollouts.dev/v1alpha1", "rollouts.dev/v1"))
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 1
    assert f"{path}: Rollout shop/web: apiVersion: expected 'rollouts.dev/v1alpha1'" in (
        result.output)


def test_our_kind_without_api_version_is_checked(tmp_path: Path) -> None:
    text = "\n".join(GOOD.splitlines()[1:])
    result = CliRunner().invoke(lint, [str(_write(tmp_path, "a.yaml", text))])
    assert result.exit_code == 1
    assert "Rollout shop/web: apiVersion: expected" in result.output


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = GOOD + "---\napiVersion: v1\nkind: [unclosed\n"
    path = _write(tmp_path, "broken.yaml", text)
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # The document before the error is still checked, and reported in file order.
    assert lines[0] == f"{path}: Rollout shop/web: ok"
    error = lines[1]
    line_no = len(GOOD.splitlines()) + 4
    assert error.startswith(f"{path}: invalid YAML: line {line_no},"), error
    assert lines[-1].endswith("1 problem")


def test_a_document_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "list.yaml", "- a\n- b\n")
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 1
    assert f"{path}: document 1: a manifest must be a mapping, not list" in result.output


def test_empty_documents_are_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "empty.yaml", "---\n---\n" + GOOD + "---\n")
    result = CliRunner().invoke(lint, [str(path)])
    assert result.exit_code == 0
    assert "1 object checked" in result.output


def test_stdin(tmp_path: Path) -> None:
    result = CliRunner().invoke(lint, ["-"], input=BAD)
    assert result.exit_code == 1
    assert "<stdin>: Rollout shop/web: spec.strategy.canary.steps[0].setWeight" in (
        result.output)


def test_directories_are_walked(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "b.yml", BAD.replace("name: web", "name: api"))
    _write(tmp_path, "notes.txt", "not yaml: [")
    result = CliRunner().invoke(lint, [str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'a.yaml'}: Rollout shop/web: ok" in result.output
    assert f"{tmp_path / 'sub' / 'b.yml'}: Rollout shop/api: spec." in result.output
    assert "notes.txt" not in result.output
    assert result.output.splitlines()[-1].startswith("2 files, 2 objects checked")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(lint, [str(missing)])
    assert result.exit_code == 1
    assert f"{missing}: cannot read: No such file or directory" in result.output


def test_no_arguments_is_a_usage_error() -> None:
    result = CliRunner().invoke(lint, [])
    assert result.exit_code == 2


def test_analysis_template_problems(tmp_path: Path) -> None:
    text = """\
apiVersion: rollouts.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: rate}
spec:
  metrics:
    - name: rate
      count: 3
      provider: {}
"""
    result = CliRunner().invoke(lint, [str(_write(tmp_path, "t.yaml", text))])
    assert result.exit_code == 1
    assert "AnalysisTemplate rate: spec.metrics[0].provider: exactly one provider" in (
        result.output)
    # one finding, one line (validation and the template checks must not both report it)
    assert result.output.count("spec.metrics[0].provider") == 1
    assert "AnalysisTemplate rate: spec.metrics[0].interval: required when count" in (
        result.output)


def test_condition_checks_are_reported_for_templates_only() -> None:
    """Problems from rollouts.analysis.checks.template_problems are reported too."""
    template = (ROOT / "examples" / "analysistemplate-success-rate.yaml").read_text().replace(
        "successCondition: result >= 0.95", "successCondition: foo(result)")
    result = lint_text(template, "t.yaml")
    assert [str(p) for d in result.documents for p in d.problems] == [
        "spec.metrics[0].successCondition: invalid condition: unknown function 'foo' "
        "(known: " + ", ".join(sorted({*FUNCTIONS, *CLOSURE_FUNCTIONS})) + ") at column 1 "
        "of 'foo(result)'"]
    # Rollouts do not go through the template checks.
    assert lint_text(GOOD, "r.yaml").documents[0].problems == []


def _rollouts_command() -> list[str]:
    found = shutil.which("rollouts")
    return [found] if found else [sys.executable, "-m", "rollouts.cli.main"]


def test_as_a_user_runs_it(tmp_path: Path) -> None:
    """The installed `rollouts` script: exit codes and plain output (no colour codes when
    the output is not a terminal)."""
    good = _write(tmp_path, "good.yaml", f"{SERVICE}---\n{GOOD}")
    bad = _write(tmp_path, "bad.yaml", BAD)
    ok = subprocess.run([*_rollouts_command(), "lint", str(good)], capture_output=True,
                        text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "1 file, 1 object checked, 1 not checked: no problems"
    failed = subprocess.run([*_rollouts_command(), "lint", str(good), str(bad)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert failed.returncode == 1
    assert "\x1b[" not in failed.stdout
    assert f"{bad}: Rollout shop/web: spec.strategy.canary.steps[0].setWeight: " in failed.stdout
    assert failed.stdout.splitlines()[-1] == (
        "2 files, 2 objects checked, 1 not checked: 2 problems in 1 object")
    examples = subprocess.run([*_rollouts_command(), "lint", *map(str, EXAMPLES)],
                              capture_output=True, text=True, timeout=60, check=False)
    assert examples.returncode == 0, examples.stdout


def test_quiet_prints_only_problems(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", f"{SERVICE}---\n{GOOD}")
    bad = _write(tmp_path, "bad.yaml", BAD)
    result = CliRunner().invoke(lint, ["-q", str(good), str(bad)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{bad}: Rollout shop/web: spec.") for line in lines[:2])
    quiet_ok = CliRunner().invoke(lint, ["--quiet", str(good)])
    assert quiet_ok.exit_code == 0
    assert quiet_ok.output.splitlines() == [
        "1 file, 1 object checked, 1 not checked: no problems"]


def test_real_condition_checks_are_wired_in(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "analysistemplate-success-rate.yaml").read_text().replace(
        "successCondition: result >= 0.95", "successCondition: result >= 0.95 &&")
    result = CliRunner().invoke(lint, [str(_write(tmp_path, "t.yaml", text))])
    assert result.exit_code == 1
    assert (f"{tmp_path / 't.yaml'}: AnalysisTemplate success-rate: "
            "spec.metrics[0].successCondition: ") in result.output
