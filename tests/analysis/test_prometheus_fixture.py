"""Tests that need the prometheus binary skip without it, but fail without it in CI."""

from __future__ import annotations

import pytest

from tests.tools import prometheus_binary


def test_missing_binary_skips_locally(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        prometheus_binary()


def test_missing_binary_fails_in_ci(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must install"):
        prometheus_binary()
