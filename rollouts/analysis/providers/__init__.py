"""Metric providers (prometheus, web, the built-in gateway stats), one module each."""
