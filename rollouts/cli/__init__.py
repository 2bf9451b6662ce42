"""Command-line entry points: ``rollouts`` and the ``kubectl-rollouts`` plugin."""
