"""Durations, int-or-string values and the camelCase wire form."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from rollouts.api.base import (
    Duration,
    IntOrString,
    ObjectMeta,
    duration_seconds,
    resolve_int_or_percent,
)
from rollouts.api.rollout import CanaryStrategy, RolloutPause


@pytest.mark.parametrize(("value", "seconds"), [
    ("30s", 30.0),
    ("5m", 300.0),
    ("1h", 3600.0),
    ("1h30m", 5400.0),
    ("1h30m5s", 5405.0),
    ("500ms", 0.5),
    ("1.5h", 5400.0),
    ("2m0s", 120.0),
    (45, 45.0),
    (0, 0.0),
    ("90", 90.0),
])
def test_duration_seconds(value: int | str, seconds: float) -> None:
    assert duration_seconds(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["5 minutes", "", "1d", "m5", "1h-30m", "abc", "30S"])
def test_invalid_durations_are_refused_with_a_hint(value: str) -> None:
    with pytest.raises(ValueError, match="30s, 5m, 1h"):
        duration_seconds(value)
    with pytest.raises(ValidationError):
        TypeAdapter(Duration).validate_python(value)


def test_duration_type_keeps_the_written_form() -> None:
    adapter = TypeAdapter(Duration)
    assert adapter.validate_python("1h30m") == "1h30m"
    assert adapter.validate_python(30) == 30
    with pytest.raises(ValidationError, match="must not be negative"):
        adapter.validate_python(-5)


def test_pause_duration_round_trips() -> None:
    assert RolloutPause.model_validate({"duration": "5m"}).to_dict() == {"duration": "5m"}
    assert RolloutPause.model_validate({}).to_dict() == {}


@pytest.mark.parametrize(("value", "total", "up", "down"), [
    ("25%", 10, 3, 2),
    ("25%", 4, 1, 1),
    ("0%", 10, 0, 0),
    ("100%", 7, 7, 7),
    ("33%", 3, 1, 0),
    ("12.5%", 8, 1, 1),
    (2, 10, 2, 2),
    ("3", 10, 3, 3),
])
def test_int_or_percent_resolution(value: int | str, total: int, up: int, down: int) -> None:
    assert resolve_int_or_percent(value, total, round_up=True) == up
    assert resolve_int_or_percent(value, total, round_up=False) == down


def test_int_or_string_validation() -> None:
    adapter = TypeAdapter(IntOrString)
    assert adapter.validate_python("25%") == "25%"
    assert adapter.validate_python(3) == 3
    for bad in ("lots", "25 %", "%", -1):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
    with pytest.raises(ValueError):
        resolve_int_or_percent("lots", 10, round_up=True)


def test_defaults_follow_argo() -> None:
    strategy = CanaryStrategy()
    assert (strategy.max_surge, strategy.max_unavailable) == ("25%", "25%")
    assert strategy.scale_down_delay == 30


def test_wire_form_is_camel_case_without_unset_fields() -> None:
    meta = ObjectMeta.model_validate({"name": "web", "generateName": "web-",
                                      "resourceVersion": "7"})
    assert meta.generate_name == "web-"
    assert meta.to_dict() == {"name": "web", "generateName": "web-", "resourceVersion": "7"}
    with pytest.raises(ValidationError, match="extra"):
        ObjectMeta.model_validate({"nmae": "web"})
