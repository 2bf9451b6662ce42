"""The Gateway API data plane: config compilation, matching, balancing, proxying, status.

Entry points: ``rollouts.gateway.run.serve`` / ``run`` (the ``rollouts gateway``
command), ``rollouts.gateway.server.GatewayServer`` (one worker, in-process),
``rollouts.gateway.source.follow_events`` (the seam for a Kubernetes watch), and the
pure ``rollouts.gateway.compile.compile_snapshot`` / ``rollouts.gateway.status``.
"""

__all__: list[str] = []
