"""The seam between the run engine and a metric source: one small protocol.

Why this exists: the engine knows nothing about PromQL or HTTP; it asks a provider for
one observation at a time and gets back the value conditions see as ``result`` (or a
``MeasurementError`` with a message a user can act on). Tests plug in fakes here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rollouts.api.analysis import Metric

__all__ = [
    "MeasurementError",
    "Observation",
    "Provider",
    "ProviderConfigError",
    "ProviderFactory",
]


class MeasurementError(Exception):
    """A measurement that could not be taken; recorded as an Error measurement."""


class ProviderConfigError(ValueError):
    """A metric whose provider cannot be built (unknown type, none, several)."""


@dataclass(frozen=True)
class Observation:
    """What one measurement saw: ``result`` for the conditions, ``value`` for people."""

    result: Any
    value: str | None = None


class Provider(Protocol):
    """One metric's source. ``measure`` is never called twice at once for one metric."""

    @property
    def kind(self) -> str: ...

    @property
    def timeout_seconds(self) -> float: ...

    async def measure(self) -> Observation: ...

    async def close(self) -> None: ...


ProviderFactory = Callable[[Metric], Provider]
"""Builds the provider of a metric whose args are already substituted."""
