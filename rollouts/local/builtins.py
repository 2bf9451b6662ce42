"""Defaults and validation of the built-in kinds, as kube-apiserver applies them.

Only what clients and the local controllers notice: Deployment and ReplicaSet defaults
(replicas, strategy, history limit, progress deadline), pod template defaults (restart
policy, grace period, DNS policy, container pull policy and termination message, port
protocols), Service defaults (type, session affinity, port protocol and targetPort),
Secret type; and validation of selectors against template labels, required containers,
names and images, Service ports, and immutable Deployment/ReplicaSet selectors.
"""

from __future__ import annotations

from typing import Any

from rollouts.local.resources import ResourceType
from rollouts.local.selectors import selector_from_label_selector

__all__ = [
    "allocate_cluster_ip",
    "default_builtin",
    "keep_cluster_ip",
    "validate_builtin",
]

Cause = tuple[str, str, str]


def allocate_cluster_ip(
    svc: dict[str, Any], existing: list[dict[str, Any]], prefix: str = "127.1."
) -> None:
    """Give a new Service a cluster IP, ``PREFIX250.1`` onwards (the local proxy serves it).

    Pods take ``PREFIX0.1`` to ``PREFIX249.250`` (see the kubelet); Services the rest.
    """
    spec = svc.get("spec")
    if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
        return
    if spec.get("clusterIP"):
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        return
    used = {(s.get("spec") or {}).get("clusterIP") for s in existing}
    n = 1
    while f"{prefix}{250 + n // 250}.{n % 250 + 1}" in used:
        n += 1
    ip = f"{prefix}{250 + n // 250}.{n % 250 + 1}"
    spec["clusterIP"] = ip
    spec["clusterIPs"] = [ip]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")


def keep_cluster_ip(old: dict[str, Any], new: dict[str, Any]) -> None:
    """The cluster IP is immutable: an update that leaves it out keeps it."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec")
    if isinstance(new_spec, dict) and old_spec.get("clusterIP") and not new_spec.get("clusterIP"):
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in old_spec:
                new_spec[key] = old_spec[key]


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            image = str(c.get("image", ""))
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            latest = (not tag or tag == "latest") and "@" not in image
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
            for p in c.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
            for probe_key in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = c.get(probe_key)
                if isinstance(probe, dict):
                    probe.setdefault("timeoutSeconds", 1)
                    probe.setdefault("periodSeconds", 10)
                    probe.setdefault("successThreshold", 1)
                    probe.setdefault("failureThreshold", 3)
                    if isinstance(probe.get("httpGet"), dict):
                        probe["httpGet"].setdefault("scheme", "HTTP")


def default_builtin(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Fill the defaults of built-in kinds in place."""
    spec = obj.get("spec")
    if rt.key in ("apps/deployments", "apps/replicasets") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if rt.key == "apps/deployments":
            strategy = spec.setdefault("strategy", {})
            if isinstance(strategy, dict):
                strategy.setdefault("type", "RollingUpdate")
                if strategy["type"] == "RollingUpdate":
                    ru = strategy.setdefault("rollingUpdate", {})
                    if isinstance(ru, dict):
                        ru.setdefault("maxSurge", "25%")
                        ru.setdefault("maxUnavailable", "25%")
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            _pod_spec_defaults(template["spec"])
    elif rt.key == "/pods" and isinstance(spec, dict):
        _pod_spec_defaults(spec)
    elif rt.key == "/services" and isinstance(spec, dict):
        if not spec.get("externalName"):
            spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
    elif rt.key == "/secrets":
        obj.setdefault("type", "Opaque")


def _containers(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [("FieldValueRequired", path, "Required value")]
    containers = spec.get("containers")
    if not containers:
        return [("FieldValueRequired", f"{path}.containers", "Required value")]
    out: list[Cause] = []
    names: set[str] = set()
    for i, c in enumerate(containers):
        where = f"{path}.containers[{i}]"
        if not isinstance(c, dict):
            out.append(("FieldValueTypeInvalid", where, "must be an object"))
            continue
        if not c.get("name"):
            out.append(("FieldValueRequired", f"{where}.name", "Required value"))
        elif c["name"] in names:
            out.append(("FieldValueDuplicate", f"{where}.name", f'Duplicate value: "{c["name"]}"'))
        names.add(str(c.get("name", "")))
        if not c.get("image"):
            out.append(("FieldValueRequired", f"{where}.image", "Required value"))
    return out


def validate_builtin(
    rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[Cause]:
    """Field causes for an invalid built-in object (empty when valid)."""
    spec = obj.get("spec")
    out: list[Cause] = []
    if rt.key in ("apps/deployments", "apps/replicasets"):
        if not isinstance(spec, dict):
            return [("FieldValueRequired", "spec", "Required value")]
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        ):
            out.append(("FieldValueRequired", "spec.selector", "Required value"))
        else:
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not selector_from_label_selector(selector)(labels):
                out.append(
                    (
                        "FieldValueInvalid",
                        "spec.template.metadata.labels",
                        f"Invalid value: {labels}: `selector` does not match template `labels`",
                    )
                )
            if old is not None and (old.get("spec") or {}).get("selector") != selector:
                out.append(
                    (
                        "FieldValueInvalid",
                        "spec.selector",
                        f"Invalid value: {selector}: field is immutable",
                    )
                )
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            out.append(
                (
                    "FieldValueInvalid",
                    "spec.replicas",
                    f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                )
            )
        out += _containers((spec.get("template") or {}).get("spec"), "spec.template.spec")
    elif rt.key == "/pods":
        out += _containers(spec, "spec")
    elif rt.key == "/services" and isinstance(spec, dict):
        for i, p in enumerate(spec.get("ports") or []):
            port = p.get("port") if isinstance(p, dict) else None
            if not isinstance(port, int) or not 1 <= port <= 65535:
                out.append(
                    (
                        "FieldValueInvalid",
                        f"spec.ports[{i}].port",
                        f"Invalid value: {port!r}: must be between 1 and 65535, inclusive",
                    )
                )
    return out
