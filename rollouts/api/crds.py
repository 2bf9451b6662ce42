"""CustomResourceDefinitions generated from the models, never written by hand.

Why this exists: ``crds/`` on disk, the CRDs the operator installs and the install
manifests all derive from the one list :func:`all_crds` returns. This module assembles
each CRD (``apiextensions.k8s.io/v1``) from two parts, and is the one import path for
both:

- ``rollouts.api.crd_kinds``: what each kind's CRD says beyond its schema
  (:data:`CRD_KINDS`, :class:`CrdKind`, :class:`PrinterColumn`, :data:`CATEGORY`);
- ``rollouts.api.crd_schema``: the structural OpenAPI v3 schema converted from a
  model's JSON schema (:func:`structural_schema`, :class:`SchemaError`).
"""

from __future__ import annotations

from typing import Any

from rollouts.api.crd_kinds import CATEGORY, CRD_KINDS, CrdKind, PrinterColumn
from rollouts.api.crd_schema import SchemaError, structural_schema
from rollouts.api.rollout import GROUP, VERSION

__all__ = [
    "CATEGORY",
    "CRD_KINDS",
    "CrdKind",
    "PrinterColumn",
    "SchemaError",
    "all_crds",
    "crd",
    "crd_filename",
    "structural_schema",
]


def crd(kind: CrdKind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": structural_schema(kind.model, kind.description,
                                                 kind.no_server_default),
        },
        "additionalPrinterColumns": [c.to_dict() for c in kind.columns],
    }
    subresources: dict[str, Any] = {}
    if kind.status_subresource:
        subresources["status"] = {}
    if kind.scale_subresource:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        }
    if subresources:
        version["subresources"] = subresources
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.name},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [version],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """Every CRD of the project, in a stable order."""
    return [crd(kind) for kind in CRD_KINDS]


def crd_filename(definition: dict[str, Any]) -> str:
    """``rollouts.dev_rollouts.yaml``: group and plural, as controller-gen names them."""
    spec = definition["spec"]
    return f"{spec['group']}_{spec['names']['plural']}.yaml"
