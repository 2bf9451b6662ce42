"""The kopf handlers: thin. Watch events only wake per-object loops; the loops call
``reconcile`` for Rollouts and run the analysis engine for AnalysisRuns.

Rollouts are woken by their own changes and by changes to what they own (ReplicaSets,
AnalysisRuns) or use (HTTPRoutes, GRPCRoutes, through an index kept from the last
reconcile), so progress is event-driven; the core's requeue_after covers timers.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import defaultdict
from typing import Any

import kopf

from rollouts.analysis.engine import RunEngine
from rollouts.api.analysis import TERMINAL_ANALYSIS_PHASES, AnalysisRun, AnalysisRunStatus
from rollouts.kube import names
from rollouts.kube.api import Kube, NotFound, without_managed_fields
from rollouts.kube.dataplane import DataPlane
from rollouts.kube.loops import Loops
from rollouts.kube.reconcile import reconcile

__all__ = ["Operator"]

log = logging.getLogger(__name__)


class Operator:
    """Holds the loops and registers the handlers on a kopf registry."""

    def __init__(self, kube: Kube, data_plane: DataPlane | None = None) -> None:
        self.kube = kube
        self.data_plane = data_plane
        self.rollouts = Loops(self._reconcile_rollout)
        self.routes: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
        self.engines: dict[tuple[str, str], RunEngine] = {}
        self.analysis = Loops(self._run_analysis)

    # -- Rollouts -----------------------------------------------------------------------

    async def _reconcile_rollout(self, namespace: str, name: str) -> float | None:
        outcome = await asyncio.to_thread(reconcile, self.kube, namespace, name, None,
                                          self.data_plane)
        for users in self.routes.values():
            users.discard((namespace, name))
        for route in outcome.routes:
            self.routes[route].add((namespace, name))
        if outcome.error:
            log.warning("Rollout %s/%s: %s", namespace, name, outcome.error)
        return outcome.requeue_after

    def _wake_owner(self, body: Any) -> None:
        meta = body.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == "Rollout" and ref.get("apiVersion", "").startswith(
                    "rollouts.dev/"):
                self.rollouts.wake(meta.get("namespace") or "", ref.get("name"))

    # -- AnalysisRuns -------------------------------------------------------------------

    def _secret(self, namespace: str) -> Any:
        def lookup(name: str, key: str) -> str | None:
            try:
                secret = self.kube.get(names.SECRET, name, namespace)
            except NotFound:
                return None
            value = (secret.get("data") or {}).get(key)
            return base64.b64decode(value).decode() if value is not None else None
        return lookup

    async def _run_analysis(self, namespace: str, name: str) -> float | None:
        document = await asyncio.to_thread(self.kube.find, names.ANALYSIS_RUN, name, namespace)
        if document is None:
            return None
        if ((document.get("status") or {}).get("phase") or "") in TERMINAL_ANALYSIS_PHASES:
            return None
        document = without_managed_fields(document)
        run = AnalysisRun.model_validate(document)

        async def persist(status: AnalysisRunStatus) -> None:
            await asyncio.to_thread(self.kube.patch, names.ANALYSIS_RUN, name,
                                    {"status": status.to_dict()}, namespace, status=True)

        engine = RunEngine(run, persist=persist, secrets=self._secret(namespace),
                           document=document)
        self.engines[(namespace, name)] = engine
        log.info("AnalysisRun %s/%s: measuring", namespace, name)
        try:
            final = await engine.run()
        finally:
            self.engines.pop((namespace, name), None)
        log.info("AnalysisRun %s/%s: %s %s", namespace, name, final.phase, final.message or "")
        return None

    def _analysis_event(self, body: Any, event_type: str | None) -> None:
        meta = body.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        if event_type == "DELETED":
            self.analysis.stop(*key)
            return
        engine = self.engines.get(key)
        if engine is not None:
            if (body.get("spec") or {}).get("terminate"):
                engine.terminate()
            return
        if ((body.get("status") or {}).get("phase") or "") not in TERMINAL_ANALYSIS_PHASES:
            self.analysis.wake(*key)

    # -- registration -------------------------------------------------------------------

    def register(self, registry: kopf.OperatorRegistry) -> None:
        group, version = "rollouts.dev", "v1alpha1"

        @kopf.on.event(group, version, "rollouts", registry=registry)
        async def rollout_event(type: str, name: str, namespace: str | None, **_: Any) -> None:
            if type == "DELETED":
                self.rollouts.stop(namespace or "", name)
            else:
                self.rollouts.wake(namespace or "", name)

        @kopf.on.event("apps", "v1", "replicasets", registry=registry)
        async def replica_set_event(body: kopf.Body, **_: Any) -> None:
            self._wake_owner(body)

        @kopf.on.event(group, version, "analysisruns", registry=registry)
        async def analysis_run_event(type: str, body: kopf.Body, **_: Any) -> None:
            self._analysis_event(body, type)
            self._wake_owner(body)

        async def route_event(name: str, namespace: str | None, **_: Any) -> None:
            for rollout_ns, rollout in sorted(self.routes.get((namespace or "", name), ())):
                self.rollouts.wake(rollout_ns, rollout)

        for plural in ("httproutes", "grpcroutes"):
            kopf.on.event("gateway.networking.k8s.io", "v1", plural, registry=registry,
                          id=f"{plural}-event")(route_event)

    async def close(self) -> None:
        await self.rollouts.close()
        await self.analysis.close()
