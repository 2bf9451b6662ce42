"""Status is written as a JSON merge patch of what changed, and not at all otherwise."""

from __future__ import annotations

from rollouts.kube.status import merge_patch


def test_only_changed_and_removed_keys_are_in_the_patch() -> None:
    old = {"phase": "Progressing", "currentStepIndex": 1, "canary": {"weights": {
        "canary": {"weight": 10}, "verified": True}}, "message": "waiting"}
    new = {"phase": "Paused", "currentStepIndex": 1, "canary": {"weights": {
        "canary": {"weight": 10}}}, "pauseConditions": [{"reason": "CanaryPauseStep"}]}
    assert merge_patch(old, new) == {
        "phase": "Paused", "canary": {"weights": {"verified": None}}, "message": None,
        "pauseConditions": [{"reason": "CanaryPauseStep"}]}


def test_equal_status_gives_an_empty_patch() -> None:
    status = {"phase": "Healthy", "conditions": [{"type": "Available", "status": "True"}]}
    assert merge_patch(status, dict(status)) == {}


def test_lists_are_replaced_whole() -> None:
    assert merge_patch({"c": [1, 2]}, {"c": [2]}) == {"c": [2]}
