"""Parsed trees are immutable, so a cached condition cannot be changed by evaluating it."""

from __future__ import annotations

import dataclasses

import pytest

from rollouts.analysis.conditions import compile_condition
from rollouts.analysis.expr_ast import Binary


def test_trees_are_frozen_and_shared_by_the_cache():
    first = compile_condition("result[0] >= 0.95")
    assert compile_condition("result[0] >= 0.95") is first
    assert isinstance(first.tree, Binary)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.tree.op = "<"  # type: ignore[misc]
    assert first.matches([0.99]) and not first.matches([0.5])
