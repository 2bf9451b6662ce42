"""Suite-wide guard: never test a stale compiled build of the gateway's hot path."""

from __future__ import annotations

import pytest

from rollouts.gateway import stale_compiled


def pytest_sessionstart(session: pytest.Session) -> None:
    if stale := stale_compiled():
        pytest.exit(
            f"compiled gateway modules {', '.join(stale)} do not match their sources: "
            "run `pip install -e .` (or `ROLLOUTS_PURE_PYTHON=1 pip install -e .`)",
            returncode=2,
        )
