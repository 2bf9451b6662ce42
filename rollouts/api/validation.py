"""Validation of our resources beyond what a schema can say, with every problem at once.

``parse_object`` turns a manifest (a dict) into its model and returns all problems,
schema and semantic, each naming the object and the field path, as
``kubectl apply --validate=strict`` would name them. Unknown kinds are rejected.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from rollouts.api.analysis import (
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    selects_metric,
)
from rollouts.api.base import resolve_int_or_percent
from rollouts.api.rollout import (
    CanaryStep,
    Rollout,
    RolloutAnalysis,
    StringMatch,
)

__all__ = [
    "KINDS",
    "Problem",
    "object_label",
    "parse_object",
    "validate_analysis_template",
    "validate_rollout",
]

KINDS: dict[str, type[BaseModel]] = {
    "Rollout": Rollout,
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
}
_API_VERSION = "rollouts.dev/v1alpha1"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a manifest: the field path and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def object_label(doc: dict[str, Any]) -> str:
    """``Rollout default/web`` style name of a manifest, for messages."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    name = meta.get("name") or "<unnamed>"
    namespace = meta.get("namespace")
    kind = doc.get("kind") or "<no kind>"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


_LABELS = ("function-", "union[", "literal[", "json-or-python[", "lax-or-strict[",
           "nullable[", "tagged-union[", "list[", "dict[", "is-instance[")


def _clean_loc(loc: tuple[int | str, ...], doc: Any) -> tuple[int | str, ...]:
    """``loc`` as a path in ``doc``: pydantic's own labels dropped, both the validator
    wrappers (``function-after[...]``) and the union members it tried on a scalar
    (``maxSurge.int``, ``maxSurge.str``)."""
    out: list[int | str] = []
    node = doc
    for part in loc:
        if isinstance(part, str) and part.startswith(_LABELS):
            continue
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            node = node[part] if 0 <= part < len(node) else None
        elif node is not None:
            continue  # a union member's name below a value that is not a container
        out.append(part)
    return tuple(out)


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(_LABELS):
            continue
        else:
            path += f".{part}" if path else part
    return path


def _schema_problems(error: ValidationError, doc: Any = None) -> list[Problem]:
    problems: set[Problem] = set()
    alternatives: dict[str, list[str]] = {}
    for item in error.errors():
        loc = _clean_loc(item["loc"], doc) if doc is not None else item["loc"]
        path = _loc_to_path(loc)
        if item["type"] == "extra_forbidden":
            field = path.rsplit(".", 1)[-1]
            problems.add(Problem(path, f'unknown field "{field}"'))
        elif item["type"] == "missing":
            problems.add(Problem(path, "required value"))
        elif len(loc) < len(item["loc"]) and item["type"].endswith("_type"):
            # One error per union member (int, str): report them as one problem.
            alternatives.setdefault(path, []).append(item["msg"].removeprefix("Input should be "))
        else:
            problems.add(Problem(path, item["msg"].removeprefix("Value error, ")))
    for path, expected in alternatives.items():
        problems.add(Problem(path, "Input should be " + " or ".join(dict.fromkeys(expected))))
    return sorted(problems)


def _without(doc: Any, locs: list[tuple[int | str, ...]]) -> Any:
    """A copy of ``doc`` with the fields at ``locs`` removed (to look past schema errors)."""
    copy = json.loads(json.dumps(doc, default=str))
    for loc in sorted(locs, key=lambda loc: [str(p) for p in loc], reverse=True):
        parent, keys = copy, list(_clean_loc(loc, doc))
        for key in keys[:-1]:
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(parent, dict) and keys:
                parent.pop(keys[-1], None)
    return copy


def _duplicates(names: list[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted({n for n in names if names.count(n) > 1})


def _related(path: str, other: str) -> bool:
    """Whether one path is the other or contains it (``a.b`` and ``a.b[0].c``)."""
    short, long = sorted((path, other), key=len)
    return long == short or long.startswith((f"{short}.", f"{short}["))


def _validate(model: type[BaseModel], doc: dict[str, Any]) -> BaseModel:
    # Through JSON in strict mode: a string where Kubernetes wants an integer is an error.
    return model.model_validate_json(json.dumps(doc, default=str), strict=True)


def parse_object(doc: Any) -> tuple[BaseModel | None, list[Problem]]:
    """The model for a manifest and every problem found in it (schema and semantic).

    Semantic rules are checked even when some fields fail the schema: those fields are
    set aside and the rest of the object is checked, so one run reports everything.
    """
    if not isinstance(doc, dict):
        return None, [Problem("", "a manifest must be a mapping")]
    kind = doc.get("kind")
    if kind not in KINDS:
        known = ", ".join(KINDS)
        return None, [Problem("kind", f"unknown kind {kind!r}: expected one of {known}")]
    if doc.get("apiVersion") != _API_VERSION:
        return None, [
            Problem("apiVersion", f"expected {_API_VERSION!r}, got {doc.get('apiVersion')!r}")
        ]
    problems: list[Problem] = []
    model: BaseModel | None = None
    try:
        model = _validate(KINDS[kind], doc)
    except ValidationError as error:
        problems = _schema_problems(error, doc)
        try:
            partial = _validate(KINDS[kind], _without(doc, [e["loc"] for e in error.errors()]))
        except ValidationError:
            return None, problems
        reported = {p.path for p in problems}
        # A rule about an object one of whose fields was set aside would be misleading.
        return None, problems + [p for p in _semantic_problems(partial)
                                 if not any(_related(p.path, r) for r in reported)]
    return model, _semantic_problems(model)


def _semantic_problems(model: BaseModel) -> list[Problem]:
    problems: list[Problem] = []
    if not (model.metadata.name or model.metadata.generate_name):  # type: ignore[attr-defined]
        problems.append(Problem("metadata.name", "required value"))
    if isinstance(model, Rollout):
        problems += validate_rollout(model)
    elif isinstance(model, AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun):
        problems += validate_analysis_template(model)
    return problems


def _string_match_problems(path: str, match: StringMatch) -> list[Problem]:
    set_fields = [f for f in ("exact", "prefix", "regex") if getattr(match, f) is not None]
    if len(set_fields) != 1:
        return [Problem(path, "exactly one of exact, prefix, regex must be set")]
    if match.regex is not None:
        try:
            re.compile(match.regex)
        except re.error as error:
            return [Problem(f"{path}.regex", f"invalid regular expression: {error}")]
    return []


def _args_problems(path: str, analysis: RolloutAnalysis) -> list[Problem]:
    return [Problem(f"{path}.args[{i}]", "exactly one of value, valueFrom must be set")
            for i, arg in enumerate(analysis.args or [])
            if (arg.value is None) == (arg.value_from is None)]


def _step_problems(rollout: Rollout, index: int, step: CanaryStep) -> list[Problem]:
    canary = rollout.canary
    path = f"spec.strategy.canary.steps[{index}]"
    routing = canary.traffic_routing
    managed = [r.name for r in (routing.managed_routes or [])] if routing else []
    set_fields = [name for name, value in step if value is not None]
    if len(set_fields) != 1:
        return [Problem(path, "a step sets exactly one of setWeight, pause, analysis, "
                              "setCanaryScale, setHeaderRoute, setMirrorRoute")]
    problems: list[Problem] = []
    max_weight = routing.max_traffic_weight if routing else 100
    if step.set_weight is not None and step.set_weight > max_weight:
        problems.append(Problem(f"{path}.setWeight",
                                f"{step.set_weight} exceeds maxTrafficWeight {max_weight}"))
    if step.set_canary_scale is not None:
        scale = step.set_canary_scale
        chosen = [f for f in ("replicas", "weight", "match_traffic_weight")
                  if getattr(scale, f) is not None]
        if len(chosen) != 1:
            problems.append(Problem(f"{path}.setCanaryScale",
                                    "exactly one of replicas, weight, matchTrafficWeight"))
        if routing is None:
            problems.append(Problem(f"{path}.setCanaryScale", "requires trafficRouting"))
    for field, route in (("setHeaderRoute", step.set_header_route),
                         ("setMirrorRoute", step.set_mirror_route)):
        if route is None:
            continue
        if routing is None:
            problems.append(Problem(f"{path}.{field}", "requires trafficRouting"))
        elif route.name not in managed:
            problems.append(Problem(
                f"{path}.{field}.name",
                f"route {route.name!r} is not listed in "
                "spec.strategy.canary.trafficRouting.managedRoutes"))
    if step.set_header_route and step.set_header_route.match:
        for i, m in enumerate(step.set_header_route.match):
            problems += _string_match_problems(
                f"{path}.setHeaderRoute.match[{i}].headerValue", m.header_value)
    if step.set_mirror_route and step.set_mirror_route.match:
        for i, mm in enumerate(step.set_mirror_route.match):
            mpath = f"{path}.setMirrorRoute.match[{i}]"
            if mm.method is not None:
                problems += _string_match_problems(f"{mpath}.method", mm.method)
            if mm.path is not None:
                problems += _string_match_problems(f"{mpath}.path", mm.path)
            for header, value in (mm.headers or {}).items():
                problems += _string_match_problems(f"{mpath}.headers.{header}", value)
    if step.analysis is not None:
        problems += _args_problems(f"{path}.analysis", step.analysis)
    return problems


def validate_rollout(rollout: Rollout) -> list[Problem]:
    """Every semantic problem of a Rollout, each naming its field path."""
    spec = rollout.spec
    problems: list[Problem] = []
    if spec.template is not None and spec.workload_ref is not None:
        problems.append(Problem("spec.workloadRef",
                                "template and workloadRef are mutually exclusive"))
    if spec.template is None and spec.workload_ref is None:
        problems.append(Problem("spec.template", "one of template or workloadRef is required"))
    if spec.template is not None:
        if spec.selector is None:
            problems.append(Problem("spec.selector", "required value when template is set"))
        else:
            labels = (spec.template.get("metadata") or {}).get("labels") or {}
            for key, value in (spec.selector.match_labels or {}).items():
                if labels.get(key) != value:
                    problems.append(Problem("spec.template.metadata.labels",
                                            f"selector requires {key}={value}, which the "
                                            "template's labels do not have"))
    canary = spec.strategy.canary
    if canary is None:
        problems.append(Problem("spec.strategy.canary",
                                "required value (the canary strategy is the only one supported)"))
        return problems
    base = "spec.strategy.canary"
    routing = canary.traffic_routing
    if routing is not None:
        services = {"canaryService": canary.canary_service, "stableService": canary.stable_service}
        for field_name, service in services.items():
            if not service:
                problems.append(Problem(f"{base}.{field_name}",
                                        "required when trafficRouting is set"))
        gw = routing.gateway_api
        if gw is None or not ((gw.http_routes or []) + (gw.grpc_routes or [])):
            problems.append(Problem(f"{base}.trafficRouting.gatewayAPI",
                                    "at least one of httpRoutes, grpcRoutes is required"))
        names = [r.name for r in routing.managed_routes or []]
        for dup in _duplicates(names):
            problems.append(Problem(f"{base}.trafficRouting.managedRoutes",
                                    f"duplicate route name {dup!r}"))
    if canary.canary_service and canary.canary_service == canary.stable_service:
        problems.append(Problem(f"{base}.canaryService",
                                "canaryService and stableService must differ"))
    if canary.dynamic_stable_scale:
        if routing is None:
            problems.append(Problem(f"{base}.dynamicStableScale", "requires trafficRouting"))
        if canary.scale_down_delay_seconds is not None:
            problems.append(Problem(f"{base}.dynamicStableScale",
                                    "dynamicStableScale and scaleDownDelaySeconds are mutually "
                                    "exclusive"))
    if (resolve_int_or_percent(canary.max_surge, 100, round_up=True) == 0
            and resolve_int_or_percent(canary.max_unavailable, 100, round_up=False) == 0):
        problems.append(Problem(f"{base}.maxUnavailable",
                                "maxSurge and maxUnavailable cannot both be 0"))
    steps = canary.steps or []
    full = routing.max_traffic_weight if routing else 100
    for index, step in enumerate(steps):
        problems += _step_problems(rollout, index, step)
        if step.set_weight is not None and step.set_weight >= full and index < len(steps) - 1:
            later = [s.kind() for s in steps[index + 1:]]
            if any(k in ("setWeight", "pause", "analysis") for k in later):
                problems.append(Problem(f"{base}.steps[{index + 1}]",
                                        f"steps after setWeight {step.set_weight} (full traffic) "
                                        "never run; remove them"))
    background = canary.analysis
    if background is not None:
        if background.starting_step is not None and background.starting_step >= max(len(steps), 1):
            problems.append(Problem(f"{base}.analysis.startingStep",
                                    f"{background.starting_step} is past the last step "
                                    f"(there are {len(steps)})"))
        problems += _args_problems(f"{base}.analysis", background)
    return problems


def validate_analysis_template(
    template: AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun,
) -> list[Problem]:
    """Semantic problems of a template or run: providers, names, schedules, references."""
    problems: list[Problem] = []
    spec = template.spec
    names = [m.name for m in spec.metrics]
    for dup in _duplicates(names):
        problems.append(Problem("spec.metrics", f"duplicate metric name {dup!r}"))
    arg_names = [a.name for a in spec.args or []]
    for dup in _duplicates(arg_names):
        problems.append(Problem("spec.args", f"duplicate argument name {dup!r}"))
    for i, arg in enumerate(spec.args or []):
        if arg.value is not None and arg.value_from is not None:
            problems.append(Problem(f"spec.args[{i}]", "value and valueFrom are mutually "
                                                       "exclusive"))
    for i, metric in enumerate(spec.metrics):
        path = f"spec.metrics[{i}]"
        providers = [name for name, value in metric.provider if value is not None]
        if len(providers) != 1:
            problems.append(Problem(f"{path}.provider",
                                    "exactly one provider must be set: prometheus, web or "
                                    "gateway"))
        count = metric.count
        if count is not None and not isinstance(count, int) and not str(count).isdigit():
            if not str(count).startswith("{{"):
                problems.append(Problem(f"{path}.count", "must be an integer"))
        elif count is not None and int(count) > 1 and metric.interval is None:
            problems.append(Problem(f"{path}.interval", "required when count is greater than 1"))
    references = [("dryRun", i, e.metric_name) for i, e in enumerate(spec.dry_run or [])] + [
        ("measurementRetention", i, e.metric_name)
        for i, e in enumerate(spec.measurement_retention or [])]
    for field, i, pattern in references:
        if not any(selects_metric(pattern, n) for n in names):
            problems.append(Problem(f"spec.{field}[{i}].metricName",
                                    f"no metric named {pattern!r}"))
    return problems
