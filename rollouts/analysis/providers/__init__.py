"""Metric providers (prometheus, web, the built-in gateway stats), one module each.

``base`` is the seam the engine uses; ``factory.create_provider`` builds one from a metric.
"""

__all__: list[str] = []
