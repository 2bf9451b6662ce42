"""Checks of analysis templates beyond the schema, for ``rollouts lint`` and ``analyze``.

Why this exists: a condition that does not parse should fail when the template is
linted, with the column of the mistake, not hours later mid-rollout. Also catches
``{{args.NAME}}`` placeholders that name no declared arg. What a schema-level rule
already reports (``rollouts.api.validation``, e.g. exactly one provider) is not
repeated here; ``manifest_problems`` runs both.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from rollouts.analysis.args import PLACEHOLDER
from rollouts.analysis.conditions import ConditionSyntaxError, compile_condition
from rollouts.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from rollouts.api.base import duration_seconds
from rollouts.api.validation import Problem, parse_object

__all__ = ["condition_problem", "manifest_problems", "template_problems"]


def _blank_placeholders(source: str) -> str:
    """Placeholders replaced by a number of the same width, so columns stay right."""
    return PLACEHOLDER.sub(lambda m: "0".ljust(len(m.group(0))), source)


def condition_problem(source: str) -> str | None:
    """What is wrong with a condition (``{{args.X}}`` allowed), with its column; or None."""
    try:
        compile_condition(_blank_placeholders(source))
    except ConditionSyntaxError as error:
        return f"invalid condition: {error} of {source!r}"
    return None


def _placeholders(value: object) -> list[str]:
    if isinstance(value, str):
        return PLACEHOLDER.findall(value)
    if isinstance(value, list):
        return [p for item in value for p in _placeholders(item)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in _placeholders(item)]
    return []


def template_problems(
    obj: AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun | object,
) -> list[Problem]:
    """Problems with conditions, intervals and arg placeholders of a template or run."""
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
        if (interval is not None and not PLACEHOLDER.search(str(interval))
                and duration_seconds(interval) <= 0):
            problems.append(Problem(f"{path}.interval", "must be longer than 0s"))
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


def manifest_problems(doc: Any) -> tuple[BaseModel | None, list[Problem]]:
    """``parse_object`` plus :func:`template_problems`: the model and each problem once."""
    model, problems = parse_object(doc)
    if model is not None:
        problems = list(dict.fromkeys([*problems, *template_problems(model)]))
    return model, problems
