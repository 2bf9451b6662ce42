"""``rollouts simulate``: the timeline a user reads, from the core alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from rollouts.api.analysis import TERMINAL_ANALYSIS_PHASES
from rollouts.cli.main import cli
from rollouts.cli.simulate import simulate_command

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CANARY = str(EXAMPLES / "rollout-canary.yaml")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["simulate", *args])
    return result.exit_code, result.output


def test_timeline_walks_every_step_to_healthy_as_a_real_command() -> None:
    done = subprocess.run([sys.executable, "-m", "rollouts.cli.main", "simulate", CANARY],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Rollout canary-demo: 4 replicas, 5 steps")
    text = done.stdout
    for expected in ("1/5 setWeight 10", "2/5 pause 2s", "3/5 setWeight 50",
                     "4/5 analysis success-rate", "5/5 setWeight 100",
                     "weights: canary 10%", "weights: canary 50%", "weights: canary 100%",
                     "start analysis run canary-demo-"):
        assert expected in text, expected
    assert "paused at step 2 of 5: resuming in 2s" in text
    assert lines[-1] == "result: Healthy after 32s", "old ReplicaSet scaled down 30 s after"


def test_what_if_failing_analysis_aborts_back_to_stable() -> None:
    code, out = run(CANARY, "--fail-analysis")
    assert code == 0
    assert "what-if: every analysis ends Failed" in out
    abort_line = next(line for line in out.splitlines() if "Degraded" in line)
    assert "4/5 analysis success-rate" in abort_line
    assert "weights: canary 0%" in abort_line
    assert out.splitlines()[-1].startswith("result: Degraded after 32s (RolloutAborted: "
                                           "analysis run canary-demo-")


def test_inconclusive_analysis_waits_for_a_person() -> None:
    code, out = run(CANARY, "--analysis-result", "Inconclusive", "--at-step", "4")
    assert code == 0
    assert "was inconclusive" in out
    assert "[user: kubectl rollouts promote]" in out
    assert out.splitlines()[-1].startswith("result: Healthy")


def test_at_step_must_name_an_analysis_step() -> None:
    code, out = run(CANARY, "--fail-analysis", "--at-step", "1")
    assert code == 2
    assert "step 1 is not an analysis step" in out


def test_invalid_rollout_is_refused_with_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "rollout-canary.yaml").read_text().replace(
        "setWeight: 50", "setWeight: 500"))
    code, out = run(str(bad))
    assert code == 1
    assert "steps[2].setWeight" in out


def test_file_without_rollout_is_an_error(tmp_path: Path) -> None:
    other = tmp_path / "svc.yaml"
    other.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    code, out = run(str(other))
    assert code == 1
    assert "no Rollout found" in out


def test_analysis_result_offers_every_terminal_phase_in_help_order() -> None:
    option = next(p for p in simulate_command.params if p.name == "analysis_result")
    assert isinstance(option.type, click.Choice)
    assert list(option.type.choices) == ["Successful", "Failed", "Inconclusive", "Error"]
    assert set(option.type.choices) == TERMINAL_ANALYSIS_PHASES
