"""The web dashboard, over the same read model as ``kubectl rollouts get``."""
