"""Local mode: an embedded Kubernetes-compatible API server and a local workload runner.

Start one with :class:`rollouts.local.server.LocalServer` (asyncio) or, from synchronous
code and tests, :class:`rollouts.local.testing.ServerThread`.
"""

__all__: list[str] = []
