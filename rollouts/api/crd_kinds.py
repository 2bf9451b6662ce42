"""What each CRD of the project says beyond its model's schema.

Why this exists: the CustomResourceDefinition of a kind carries more than the schema
generated from its model: names (plural, short names, category), scope, subresources,
the columns ``kubectl get`` prints and the fields the API server must not default. This
module declares that, kind by kind, in :data:`CRD_KINDS`; ``rollouts.api.crds`` (which
re-exports every name here) assembles the CRDs from it and from
``rollouts.api.crd_schema``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from rollouts.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from rollouts.api.rollout import GROUP, Rollout

__all__ = ["CATEGORY", "CRD_KINDS", "CrdKind", "PrinterColumn"]

# Not "rollouts": kubectl expands categories before resource names, so `kubectl get
# rollouts` would list every kind of ours instead of Rollouts.
CATEGORY = "rollouts-dev"


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry (what ``kubectl get`` shows)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        if self.format:
            column["format"] = self.format
        return column


_AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp",
                     "Time since the object was created")


@dataclass(frozen=True)
class CrdKind:
    """What the CRD of one kind says beyond the model's schema."""

    model: type[BaseModel]
    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    namespaced: bool = True
    status_subresource: bool = False
    scale_subresource: bool = False
    columns: tuple[PrinterColumn, ...] = (_AGE,)
    # Fields whose default the API server must not fill in, because whether the user set
    # them matters: (model class name, wire field name).
    no_server_default: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"


# scaleDownDelaySeconds and dynamicStableScale are mutually exclusive when the user sets
# scaleDownDelaySeconds (validation looks at whether it was set); if the API server
# defaulted it, every dynamicStableScale Rollout would read back as invalid.
_ROLLOUT_NO_DEFAULT = frozenset({("CanaryStrategy", "scaleDownDelaySeconds")})

CRD_KINDS: tuple[CrdKind, ...] = (
    CrdKind(
        model=Rollout,
        kind="Rollout",
        plural="rollouts",
        short_names=("ro",),
        description=(
            "Rollout replaces a Deployment: it runs the stable and the canary ReplicaSet "
            "and moves traffic between them step by step through Gateway API route "
            "weights, promoting or aborting on analysis."
        ),
        status_subresource=True,
        scale_subresource=True,
        columns=(
            PrinterColumn("Desired", "integer", ".spec.replicas", "Number of desired pods"),
            PrinterColumn("Current", "integer", ".status.replicas", "Total number of pods"),
            PrinterColumn("Up-to-date", "integer", ".status.updatedReplicas",
                          "Pods of the newest revision"),
            PrinterColumn("Available", "integer", ".status.availableReplicas",
                          "Pods available to serve"),
            PrinterColumn("Phase", "string", ".status.phase",
                          "Healthy, Progressing, Paused or Degraded"),
            PrinterColumn("Step", "integer", ".status.currentStepIndex",
                          "Index of the current canary step"),
            PrinterColumn("Weight", "number", ".status.canary.weights.canary.weight",
                          "Percentage of traffic the canary receives"),
            _AGE,
            PrinterColumn("Message", "string", ".status.message",
                          "Why the rollout is in its phase", priority=1),
        ),
        no_server_default=_ROLLOUT_NO_DEFAULT,
    ),
    CrdKind(
        model=AnalysisTemplate,
        kind="AnalysisTemplate",
        plural="analysistemplates",
        short_names=("at",),
        description=(
            "AnalysisTemplate describes the metrics that decide whether a canary is "
            "healthy; Rollouts reference it from analysis steps and background analysis."
        ),
    ),
    CrdKind(
        model=ClusterAnalysisTemplate,
        kind="ClusterAnalysisTemplate",
        plural="clusteranalysistemplates",
        short_names=("cat",),
        description=(
            "ClusterAnalysisTemplate is an AnalysisTemplate that Rollouts of every "
            "namespace can reference (with clusterScope: true)."
        ),
        namespaced=False,
    ),
    CrdKind(
        model=AnalysisRun,
        kind="AnalysisRun",
        plural="analysisruns",
        short_names=("ar",),
        description=(
            "AnalysisRun is one execution of analysis templates: it takes measurements "
            "and assesses them as Successful, Failed, Inconclusive or Error."
        ),
        status_subresource=True,
        columns=(
            PrinterColumn("Phase", "string", ".status.phase", "Phase of the analysis run"),
            _AGE,
            PrinterColumn("Message", "string", ".status.message",
                          "Why the run is in its phase", priority=1),
        ),
    ),
)
