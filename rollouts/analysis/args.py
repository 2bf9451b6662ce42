"""Build an AnalysisRun from templates and resolve its arguments into concrete metrics.

Why this exists: a Rollout step names one or more (Cluster)AnalysisTemplates and passes
args; the run merges the templates and must end up with metrics whose queries, URLs and
headers have every ``{{args.NAME}}`` filled in. A missing or conflicting arg becomes a
clear Error on the run (``ArgumentError``), never a crash of the loop that runs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from rollouts.api.analysis import (
    AnalysisRun,
    AnalysisRunSpec,
    AnalysisRunStatus,
    AnalysisTemplate,
    Argument,
    ClusterAnalysisTemplate,
    Metric,
)
from rollouts.api.base import ObjectMeta
from rollouts.api.rollout import AnalysisRunArgument, DryRun, MeasurementRetention, Rollout

__all__ = [
    "PLACEHOLDER",
    "ArgumentError",
    "SecretLookup",
    "build_run",
    "field_path_value",
    "merge_templates",
    "resolve_args",
    "resolve_metrics",
    "rollout_args",
    "substitute",
]

SecretLookup = Callable[[str, str], str | None]
"""(secret name, key) -> value or None when there is no such secret or key."""

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
"""A ``{{...}}`` placeholder; group 1 is what it names (``args.NAME`` is the only kind)."""
_FIELD_PART = re.compile(r"""\.?([A-Za-z_][A-Za-z0-9_]*)|\[(?:'([^']*)'|"([^"]*)"|(\d+))\]""")


class ArgumentError(ValueError):
    """Args that cannot be merged or resolved; the message says which and why."""


def merge_templates(
    templates: Sequence[AnalysisTemplate | ClusterAnalysisTemplate],
) -> AnalysisRunSpec:
    """One run spec from several templates: metrics, args, dryRun and retention concatenated.

    The same arg in two templates is fine when the values agree (or only one has a value);
    two metrics of one name are an error.
    """
    if not templates:
        raise ArgumentError("no templates to run")
    args: dict[str, Argument] = {}
    metrics: list[Metric] = []
    dry_run = []
    retention = []
    for template in templates:
        label = f"{template.kind} {template.metadata.name}"
        for arg in template.spec.args or []:
            stored = args.get(arg.name)
            if stored is None or (stored.value is None and stored.value_from is None):
                args[arg.name] = arg
            elif (arg.value is not None or arg.value_from is not None) and (
                    stored.value != arg.value or stored.value_from != arg.value_from):
                raise ArgumentError(f"argument {arg.name!r} is given different values by "
                                    f"several templates (last: {label})")
        for metric in template.spec.metrics:
            if any(m.name == metric.name for m in metrics):
                raise ArgumentError(f"metric {metric.name!r} is defined by more than one "
                                    f"template (again in {label})")
            metrics.append(metric)
        dry_run += template.spec.dry_run or []
        retention += template.spec.measurement_retention or []
    return AnalysisRunSpec(
        args=list(args.values()) or None,
        metrics=metrics,
        dry_run=dry_run or None,
        measurement_retention=retention or None,
    )


def field_path_value(obj: Mapping[str, Any], path: str) -> str:
    """A Kubernetes fieldRef (``metadata.labels['app']``, ``status.stableRS``) in ``obj``."""
    current: Any = obj
    position = 0
    text = path.strip()
    while position < len(text):
        match = _FIELD_PART.match(text, position)
        if match is None:
            raise ArgumentError(f"invalid fieldPath {path!r}")
        position = match.end()
        key: Any = next(g for g in match.groups() if g is not None)
        if match.group(4) is not None:
            key = int(key)
            if not isinstance(current, list) or key >= len(current):
                raise ArgumentError(f"fieldPath {path!r} has no value")
            current = current[key]
            continue
        if not isinstance(current, Mapping) or key not in current:
            raise ArgumentError(f"fieldPath {path!r} has no value")
        current = current[key]
    if current is None or isinstance(current, dict | list):
        raise ArgumentError(f"fieldPath {path!r} is not a single value")
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def rollout_args(
    rollout: Rollout, args: Sequence[AnalysisRunArgument] | None
) -> list[Argument]:
    """A Rollout step's args as run args: podTemplateHashValue and fieldRef resolved."""
    status = rollout.status
    document = rollout.model_dump(by_alias=True, exclude_none=True, mode="json")
    out: list[Argument] = []
    for arg in args or []:
        if arg.value is not None:
            out.append(Argument(name=arg.name, value=arg.value))
            continue
        source = arg.value_from
        if source is None:
            raise ArgumentError(f"argument {arg.name!r} has neither value nor valueFrom")
        if source.pod_template_hash_value is not None:
            value = (status.stable_rs if source.pod_template_hash_value == "Stable"
                     else status.current_pod_hash) if status else None
            if not value:
                raise ArgumentError(f"argument {arg.name!r}: the Rollout has no "
                                    f"{source.pod_template_hash_value} pod-template hash yet")
            out.append(Argument(name=arg.name, value=value))
        elif source.field_ref is not None:
            out.append(Argument(name=arg.name,
                                value=field_path_value(document, source.field_ref.field_path)))
        else:
            raise ArgumentError(f"argument {arg.name!r}: valueFrom sets nothing")
    return out


def build_run(
    templates: Sequence[AnalysisTemplate | ClusterAnalysisTemplate],
    args: Sequence[Argument] | Mapping[str, str] = (),
    *,
    name: str,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
    dry_run: Sequence[DryRun] | None = None,
    measurement_retention: Sequence[MeasurementRetention] | None = None,
) -> AnalysisRun:
    """An AnalysisRun for ``templates`` with ``args`` given by the caller (a Rollout step).

    ``dry_run`` and ``measurement_retention`` of the Rollout's analysis step are added to
    the templates' own.

    Never raises for bad args: a run that cannot be built carries phase Error and a
    message, so the caller records it like any other failed run.
    """
    given = ([Argument(name=k, value=v) for k, v in args.items()]
             if isinstance(args, Mapping) else list(args))
    meta = ObjectMeta(name=name, namespace=namespace, labels=dict(labels) if labels else None)
    try:
        spec = merge_templates(templates)
    except ArgumentError as error:
        first = templates[0].spec if templates else None
        return AnalysisRun(
            metadata=meta,
            spec=AnalysisRunSpec(metrics=list(first.metrics) if first else [_placeholder()]),
            status=AnalysisRunStatus(phase="Error", message=str(error)),
        )
    by_name = {a.name: a for a in spec.args or []}
    for arg in given:
        if arg.name in by_name:
            by_name[arg.name] = arg
    spec = spec.model_copy(update={
        "args": list(by_name.values()) or None,
        "dry_run": [*(spec.dry_run or []), *(dry_run or [])] or None,
        "measurement_retention": [*(spec.measurement_retention or []),
                                  *(measurement_retention or [])] or None,
    })
    return AnalysisRun(metadata=meta, spec=spec)


def _placeholder() -> Metric:
    return Metric.model_validate({"name": "none", "provider": {"web": {"url": "http://invalid"}}})


def resolve_args(
    args: Sequence[Argument] | None, secrets: SecretLookup | None = None,
    document: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every arg's value; ``ArgumentError`` names the first one without a value."""
    values: dict[str, str] = {}
    for arg in args or []:
        if arg.value is not None:
            values[arg.name] = arg.value
            continue
        source = arg.value_from
        if source is None:
            raise ArgumentError(f"argument {arg.name!r} has no value: pass it from the "
                                f"Rollout (or with --arg {arg.name}=VALUE)")
        if source.secret_key_ref is not None:
            ref = source.secret_key_ref
            value = secrets(ref.name, ref.key) if secrets is not None else None
            if value is None:
                raise ArgumentError(f"argument {arg.name!r}: secret {ref.name!r} has no key "
                                    f"{ref.key!r} (or it cannot be read here)")
            values[arg.name] = value
        elif source.field_ref is not None:
            if document is None:
                raise ArgumentError(f"argument {arg.name!r}: fieldRef "
                                    f"{source.field_ref.field_path!r} needs the Rollout")
            values[arg.name] = field_path_value(document, source.field_ref.field_path)
        else:
            raise ArgumentError(f"argument {arg.name!r}: valueFrom sets nothing")
    return values


def substitute(value: Any, args: Mapping[str, str], where: str = "") -> Any:
    """``value`` with ``{{args.NAME}}`` replaced in every string; unknown names are errors."""
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            tag = match.group(1)
            if not tag.startswith("args."):
                raise ArgumentError(f"{where or 'value'}: unknown placeholder {{{{{tag}}}}} "
                                    "(only {{args.NAME}} is supported)")
            name = tag.removeprefix("args.")
            if name not in args:
                raise ArgumentError(f"{where or 'value'}: argument {name!r} is used but not "
                                    "declared in the template's args")
            return args[name]
        return PLACEHOLDER.sub(replace, value)
    if isinstance(value, list):
        return [substitute(v, args, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: substitute(v, args, f"{where}.{k}" if where else k) for k, v in value.items()}
    return value


def resolve_metrics(
    run: AnalysisRun, secrets: SecretLookup | None = None,
    document: Mapping[str, Any] | None = None,
) -> list[Metric]:
    """The run's metrics with every arg substituted, re-validated against the model."""
    values = resolve_args(run.spec.args, secrets, document)
    resolved: list[Metric] = []
    for metric in run.spec.metrics:
        raw = metric.model_dump(by_alias=True, exclude_none=True, mode="json")
        filled = substitute(raw, values, f"metric {metric.name!r}")
        try:
            resolved.append(Metric.model_validate(filled))
        except ValidationError as error:
            first = error.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ArgumentError(f"metric {metric.name!r} is invalid after substituting args: "
                                f"{loc}: {first['msg']}") from None
    return resolved
