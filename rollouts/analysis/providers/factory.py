"""From a metric's provider config to a provider object; unknown types are rejected.

Why this exists: the model already forbids unknown provider keys, but configs also come
as plain dicts (tests, the CLI, future plugins); this is the one place that maps a
provider type to its class, and it refuses anything it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from rollouts.analysis.providers.base import Provider, ProviderConfigError
from rollouts.analysis.providers.gateway import GatewayProvider
from rollouts.analysis.providers.prometheus import PrometheusProvider
from rollouts.analysis.providers.web import WebProvider
from rollouts.api.analysis import GatewayMetric, Metric, MetricProvider, PrometheusMetric, WebMetric

__all__ = ["PROVIDERS", "create_provider", "provider_from_config", "provider_type"]

PROVIDERS: dict[str, tuple[type[BaseModel], Callable[[Any], Provider]]] = {
    "prometheus": (PrometheusMetric, PrometheusProvider),
    "web": (WebMetric, WebProvider),
    "gateway": (GatewayMetric, GatewayProvider),
}


def provider_type(provider: MetricProvider | Mapping[str, Any]) -> str:
    """The one provider type set, or ``ProviderConfigError``."""
    fields = dict(provider) if isinstance(provider, MetricProvider) else provider
    chosen = [name for name, value in fields.items() if value is not None]
    unknown = [name for name in chosen if name not in PROVIDERS]
    if unknown:
        raise ProviderConfigError(f"unknown provider type {unknown[0]!r}: expected one of "
                                  f"{', '.join(PROVIDERS)}")
    if len(chosen) != 1:
        raise ProviderConfigError("exactly one provider must be set: "
                                  f"{', '.join(PROVIDERS)} (got {len(chosen)})")
    return chosen[0]


def provider_from_config(config: Mapping[str, Any]) -> Provider:
    """A provider from ``{"prometheus": {...}}`` style config (camelCase keys)."""
    kind = provider_type(config)
    model, build = PROVIDERS[kind]
    try:
        spec = model.model_validate(config[kind])
    except ValidationError as error:
        first = error.errors()[0]
        raise ProviderConfigError(f"{kind} provider: {'.'.join(map(str, first['loc']))}: "
                                  f"{first['msg']}") from None
    return build(spec)


def create_provider(metric: Metric) -> Provider:
    """The default ``ProviderFactory``: the provider of a metric with args substituted."""
    kind = provider_type(metric.provider)
    _, build = PROVIDERS[kind]
    return build(getattr(metric.provider, kind))
