"""AnalysisRun phases: which of them are terminal."""

from __future__ import annotations

from typing import get_args

from rollouts.api.analysis import TERMINAL_ANALYSIS_PHASES, AnalysisPhase


def test_terminal_phases_are_the_four_verdicts() -> None:
    assert {"Successful", "Failed", "Error", "Inconclusive"} == TERMINAL_ANALYSIS_PHASES
    assert isinstance(TERMINAL_ANALYSIS_PHASES, frozenset)


def test_only_pending_and_running_are_not_terminal() -> None:
    phases = set(get_args(AnalysisPhase))
    assert phases >= TERMINAL_ANALYSIS_PHASES
    assert phases - TERMINAL_ANALYSIS_PHASES == {"Pending", "Running"}
