"""The Gateway API data plane: config compilation, matching, balancing, proxying, status.

Entry points: ``rollouts.gateway.run.serve`` / ``run`` (the ``rollouts gateway``
command), ``rollouts.gateway.server.GatewayServer`` (one worker, in-process),
``rollouts.gateway.source.follow_events`` (the seam for a Kubernetes watch), and the
pure ``rollouts.gateway.compile.compile_snapshot`` / ``rollouts.gateway.status``.

The per-request modules may be compiled by mypyc at install time (see setup.py); a
compiled module shadows its source, so an edit made after installing would silently
not run. ``stale_compiled`` names such modules, and importing this package warns.
"""

import hashlib
import json
import warnings
from pathlib import Path

__all__ = ["stale_compiled"]


def stale_compiled() -> list[str]:
    """Compiled hot-path modules whose source changed since they were built."""
    here = Path(__file__).parent
    try:
        built = json.loads((here / "_compiled.json").read_text())
    except (OSError, ValueError):
        return []  # not compiled: the sources are what runs
    stale = []
    for name, digest in built.items():
        src = here / f"{name}.py"
        if src.exists() and hashlib.sha256(src.read_bytes()).hexdigest() != digest:
            stale.append(name)
    return stale


if _stale := stale_compiled():
    warnings.warn(
        f"rollouts.gateway: compiled modules {', '.join(_stale)} are older than their "
        "sources; rebuild with `pip install -e .` (or set ROLLOUTS_PURE_PYTHON=1 first)",
        RuntimeWarning,
        stacklevel=2,
    )
