"""The shared base of the Gateway API models: object metadata and label selectors.

Why this exists: every kind the gateway reads (``rollouts.api.gatewayapi``) shares one
lenient pydantic configuration, the same ``metadata`` and, for several of them, the
Kubernetes label-selector semantics. They live here, below the per-kind modules
(``gatewayapi_gateways``, ``gatewayapi_routes``, ``gatewayapi_core``), so that each of
those imports one base rather than each other. ``_Model`` and ``_Object`` stay private
to ``rollouts.api``: only the Gateway API model modules derive from them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "CONTROLLER_NAME",
    "GATEWAY_GROUP",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ObjectMeta",
]

CONTROLLER_NAME = "rollouts.dev/gateway-controller"
GATEWAY_GROUP = "gateway.networking.k8s.io"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, alias_generator=to_camel, frozen=True
    )


class ObjectMeta(_Model):
    name: str
    namespace: str = "default"
    generation: int = 0
    creation_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    resource_version: str | None = None
    uid: str | None = None


class _Object(_Model):
    api_version: str = ""
    kind: str = ""
    metadata: ObjectMeta

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name)."""
        return (self.metadata.namespace, self.metadata.name)


class LabelSelectorRequirement(_Model):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        """Kubernetes label-selector semantics (all terms ANDed)."""
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        for e in self.match_expressions:
            present = e.key in labels
            if e.operator == "In" and not (present and labels[e.key] in e.values):
                return False
            if e.operator == "NotIn" and present and labels[e.key] in e.values:
                return False
            if e.operator == "Exists" and not present:
                return False
            if e.operator == "DoesNotExist" and present:
                return False
        return True
