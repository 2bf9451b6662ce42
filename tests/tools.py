"""Real parts the tests use (Prometheus, kubectl): find them, or skip only outside CI."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

__all__ = ["REPO", "free_port", "prometheus_binary", "require"]

REPO = Path(__file__).resolve().parents[1]


def require(name: str, found: str | None, install: str) -> str:
    """``found``, or a skip (a failure when CI is set: CI must have every real part)."""
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing; CI must install it ({install})")
    pytest.skip(f"{name} is not installed ({install})")
    raise AssertionError  # unreachable


def prometheus_binary() -> str:
    return require("the prometheus binary", shutil.which("prometheus"),
                   "apt-get install -y prometheus")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
