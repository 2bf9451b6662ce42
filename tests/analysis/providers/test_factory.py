"""Provider config -> provider object; unknown types are rejected."""

from __future__ import annotations

import pytest

from rollouts.analysis.providers.base import ProviderConfigError
from rollouts.analysis.providers.factory import create_provider, provider_from_config
from rollouts.analysis.providers.gateway import GatewayProvider
from rollouts.analysis.providers.prometheus import PrometheusProvider
from rollouts.analysis.providers.web import WebProvider
from rollouts.api.analysis import Metric, MetricProvider


def test_each_known_type_builds_its_provider():
    assert isinstance(provider_from_config(
        {"prometheus": {"address": "http://p", "query": "up"}}), PrometheusProvider)
    assert isinstance(provider_from_config({"web": {"url": "http://w"}}), WebProvider)
    assert isinstance(provider_from_config(
        {"gateway": {"address": "g", "service": "s"}}), GatewayProvider)
    metric = Metric.model_validate({"name": "m", "provider": {"web": {"url": "http://w"}}})
    assert isinstance(create_provider(metric), WebProvider)


@pytest.mark.parametrize(("config", "message"), [
    ({"datadog": {"query": "x"}}, "unknown provider type 'datadog'"),
    ({}, "exactly one provider"),
    ({"web": {"url": "u"}, "gateway": {"address": "a", "service": "s"}}, "got 2"),
    ({"web": {"nope": 1}}, "web provider"),
])
def test_bad_configs_are_rejected(config, message):
    with pytest.raises(ProviderConfigError, match=message):
        provider_from_config(config)


def test_the_model_rejects_unknown_provider_types_too():
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        MetricProvider.model_validate({"datadog": {"query": "x"}})
    metric = Metric.model_validate({"name": "m", "provider": {}})
    with pytest.raises(ProviderConfigError):
        create_provider(metric)
