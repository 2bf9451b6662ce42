"""Checks of analysis templates beyond the schema, for validation and ``rollouts lint``.

Why this exists: a condition that does not parse should fail when the template is
applied or linted, with the column of the mistake, not hours later mid-rollout. Also
catches ``{{args.NAME}}`` placeholders that name no declared arg and providers the
engine cannot build.
"""

from __future__ import annotations

import re

from rollouts.analysis.conditions import ConditionSyntaxError, compile_condition
from rollouts.analysis.providers.base import ProviderConfigError
from rollouts.analysis.providers.factory import provider_type
from rollouts.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from rollouts.api.base import duration_seconds
from rollouts.api.validation import Problem

__all__ = ["condition_problem", "template_problems"]

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def _blank_placeholders(source: str) -> str:
    """Placeholders replaced by a number of the same width, so columns stay right."""
    return _PLACEHOLDER.sub(lambda m: "0".ljust(len(m.group(0))), source)


def condition_problem(source: str) -> str | None:
    """What is wrong with a condition (``{{args.X}}`` allowed), with its column; or None."""
    try:
        compile_condition(_blank_placeholders(source))
    except ConditionSyntaxError as error:
        return (f"invalid condition: {error.reason} at column {error.position + 1} "
                f"of {source!r}")
    return None


def _placeholders(value: object) -> list[str]:
    if isinstance(value, str):
        return _PLACEHOLDER.findall(value)
    if isinstance(value, list):
        return [p for item in value for p in _placeholders(item)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in _placeholders(item)]
    return []


def template_problems(
    obj: AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun | object,
) -> list[Problem]:
    """Problems with conditions, arg placeholders and providers of a template or run."""
    if not isinstance(obj, AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun):
        return []
    problems: list[Problem] = []
    declared = {arg.name for arg in obj.spec.args or []}
    for index, metric in enumerate(obj.spec.metrics):
        path = f"spec.metrics[{index}]"
        for field, source in (("successCondition", metric.success_condition),
                              ("failureCondition", metric.failure_condition)):
            if source is None:
                continue
            if not source.strip():
                problems.append(Problem(f"{path}.{field}", "must not be empty"))
                continue
            message = condition_problem(source)
            if message:
                problems.append(Problem(f"{path}.{field}", message))
        interval = metric.interval
        if (interval is not None and not _PLACEHOLDER.search(str(interval))
                and duration_seconds(interval) <= 0):
            problems.append(Problem(f"{path}.interval", "must be longer than 0s"))
        try:
            provider_type(metric.provider)
        except ProviderConfigError as error:
            problems.append(Problem(f"{path}.provider", str(error)))
        raw = metric.model_dump(by_alias=True, exclude_none=True, mode="json")
        for tag in sorted(set(_placeholders(raw))):
            if not tag.startswith("args."):
                problems.append(Problem(path, f"unknown placeholder {{{{{tag}}}}}: only "
                                              "{{args.NAME}} is supported"))
            elif tag.removeprefix("args.") not in declared:
                problems.append(Problem(path, f"{{{{{tag}}}}} is used but "
                                              f"{tag.removeprefix('args.')!r} is not declared "
                                              "in spec.args"))
    return problems
