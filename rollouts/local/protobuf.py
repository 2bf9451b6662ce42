"""Decoding of Kubernetes protobuf request bodies for the common built-in kinds.

kubectl's generator commands (``kubectl create namespace|configmap|secret|deployment|
service|serviceaccount``) send ``application/vnd.kubernetes.protobuf`` bodies: the magic
``k8s\\0`` followed by a ``runtime.Unknown`` envelope whose ``raw`` field is the object in
the Go types' protobuf encoding. This module decodes the protobuf wire format and maps
field numbers to JSON field names with small tables for Namespace, ConfigMap, Secret,
ServiceAccount, Service, Deployment, Pod and DeleteOptions (and what they contain);
helm's release Secrets and uninstalls use them too. Fields the tables do not know are
dropped; zero values of non-pointer fields are omitted as Go's JSON encoding omits them.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from rollouts.local.errors import unsupported_media_type
from rollouts.local.meta import TIME_FORMAT

__all__ = ["KINDS", "decode_object"]

MAGIC = b"k8s\x00"

# message -> field number -> (json name, type, flags). Types: str, int, bool, bytes,
# map (string->string), bmap (string->bytes, base64 in JSON), ios (IntOrString), time, or
# the name of another message. Flags: "r" repeated, "p" pointer (zero values kept).
Field = tuple[str, str, str]
MESSAGES: dict[str, dict[int, Field]] = {
    "ObjectMeta": {
        1: ("name", "str", ""),
        2: ("generateName", "str", ""),
        3: ("namespace", "str", ""),
        5: ("uid", "str", ""),
        6: ("resourceVersion", "str", ""),
        7: ("generation", "int", ""),
        8: ("creationTimestamp", "time", ""),
        9: ("deletionTimestamp", "time", ""),
        10: ("deletionGracePeriodSeconds", "int", "p"),
        11: ("labels", "map", ""),
        12: ("annotations", "map", ""),
        13: ("ownerReferences", "OwnerReference", "r"),
        14: ("finalizers", "str", "r"),
    },
    "OwnerReference": {
        1: ("kind", "str", ""),
        3: ("name", "str", ""),
        4: ("uid", "str", ""),
        5: ("apiVersion", "str", ""),
        6: ("controller", "bool", "p"),
        7: ("blockOwnerDeletion", "bool", "p"),
    },
    "LabelSelector": {
        1: ("matchLabels", "map", ""),
        2: ("matchExpressions", "LabelSelectorRequirement", "r"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "str", ""),
        2: ("operator", "str", ""),
        3: ("values", "str", "r"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "NamespaceSpec", "")},
    "NamespaceSpec": {1: ("finalizers", "str", "r")},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", ""),
        2: ("data", "map", ""),
        3: ("binaryData", "bmap", ""),
        4: ("immutable", "bool", "p"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", ""),
        2: ("data", "bmap", ""),
        3: ("type", "str", ""),
        4: ("stringData", "map", ""),
        5: ("immutable", "bool", "p"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta", ""),
        4: ("automountServiceAccountToken", "bool", "p"),
    },
    "Service": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ServiceSpec", "")},
    "ServiceSpec": {
        1: ("ports", "ServicePort", "r"),
        2: ("selector", "map", ""),
        3: ("clusterIP", "str", ""),
        4: ("type", "str", ""),
        5: ("externalIPs", "str", "r"),
        7: ("sessionAffinity", "str", ""),
        8: ("loadBalancerIP", "str", ""),
        10: ("externalName", "str", ""),
        11: ("externalTrafficPolicy", "str", ""),
        13: ("publishNotReadyAddresses", "bool", ""),
    },
    "ServicePort": {
        1: ("name", "str", ""),
        2: ("protocol", "str", ""),
        3: ("port", "int", ""),
        4: ("targetPort", "ios", ""),
        5: ("nodePort", "int", ""),
        6: ("appProtocol", "str", "p"),
    },
    "Deployment": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "DeploymentSpec", "")},
    "DeploymentSpec": {
        1: ("replicas", "int", "p"),
        2: ("selector", "LabelSelector", ""),
        3: ("template", "PodTemplateSpec", ""),
        4: ("strategy", "DeploymentStrategy", ""),
        5: ("minReadySeconds", "int", ""),
        6: ("revisionHistoryLimit", "int", "p"),
        7: ("paused", "bool", ""),
        9: ("progressDeadlineSeconds", "int", "p"),
    },
    "DeploymentStrategy": {
        1: ("type", "str", ""),
        2: ("rollingUpdate", "RollingUpdateDeployment", ""),
    },
    "RollingUpdateDeployment": {1: ("maxUnavailable", "ios", ""), 2: ("maxSurge", "ios", "")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodSpec", "")},
    "Pod": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodSpec", "")},
    "PodSpec": {
        2: ("containers", "Container", "r"),
        3: ("restartPolicy", "str", ""),
        4: ("terminationGracePeriodSeconds", "int", "p"),
        6: ("dnsPolicy", "str", ""),
        7: ("nodeSelector", "map", ""),
        8: ("serviceAccountName", "str", ""),
        10: ("nodeName", "str", ""),
        16: ("hostname", "str", ""),
        20: ("initContainers", "Container", "r"),
    },
    "Container": {
        1: ("name", "str", ""),
        2: ("image", "str", ""),
        3: ("command", "str", "r"),
        4: ("args", "str", "r"),
        5: ("workingDir", "str", ""),
        6: ("ports", "ContainerPort", "r"),
        7: ("env", "EnvVar", "r"),
        14: ("imagePullPolicy", "str", ""),
        16: ("stdin", "bool", ""),
        17: ("stdinOnce", "bool", ""),
        18: ("tty", "bool", ""),
    },
    "ContainerPort": {
        1: ("name", "str", ""),
        2: ("hostPort", "int", ""),
        3: ("containerPort", "int", ""),
        4: ("protocol", "str", ""),
        5: ("hostIP", "str", ""),
    },
    "EnvVar": {1: ("name", "str", ""), 2: ("value", "str", "")},
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", "p"),
        2: ("preconditions", "Preconditions", ""),
        3: ("orphanDependents", "bool", "p"),
        4: ("propagationPolicy", "str", "p"),
        5: ("dryRun", "str", "r"),
    },
    "Preconditions": {1: ("uid", "str", "p"), 2: ("resourceVersion", "str", "p")},
}

KINDS = {
    "Namespace",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Service",
    "Deployment",
    "Pod",
    "DeleteOptions",
}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for everything else."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            out.append((number, value))
        elif wire == 2:
            size, i = _varint(buf, i)
            out.append((number, buf[i : i + size]))
            i += size
        elif wire == 1:
            out.append((number, buf[i : i + 8]))
            i += 8
        elif wire == 5:
            out.append((number, buf[i : i + 4]))
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, raw: int | bytes) -> Any:
    if kind == "str":
        return raw.decode() if isinstance(raw, bytes) else str(raw)
    if kind == "int":
        return _signed(raw) if isinstance(raw, int) else 0
    if kind == "bool":
        return bool(raw)
    if kind == "bytes":
        return base64.b64encode(raw if isinstance(raw, bytes) else b"").decode()
    raise ValueError(kind)


def _entry(raw: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, v in _fields(raw):
        if number == 1 and isinstance(v, bytes):
            key = v.decode()
        elif number == 2 and isinstance(v, bytes):
            value = v
    return key, value


def _int_or_string(raw: bytes) -> int | str:
    typ, ival, sval = 0, 0, ""
    for number, v in _fields(raw):
        if number == 1 and isinstance(v, int):
            typ = v
        elif number == 2 and isinstance(v, int):
            ival = _signed(v)
        elif number == 3 and isinstance(v, bytes):
            sval = v.decode()
    return sval if typ == 1 else ival


def _time(raw: bytes) -> str:
    seconds = 0
    for number, v in _fields(raw):
        if number == 1 and isinstance(v, int):
            seconds = _signed(v)
    return datetime.fromtimestamp(seconds, UTC).strftime(TIME_FORMAT)


def _message(name: str, raw: bytes) -> dict[str, Any]:
    table = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, value in _fields(raw):
        spec = table.get(number)
        if spec is None:
            continue
        field, kind, flags = spec
        if kind in ("map", "bmap"):
            if not isinstance(value, bytes):
                continue
            k, v = _entry(value)
            out.setdefault(field, {})[k] = (
                v.decode() if kind == "map" else base64.b64encode(v).decode()
            )
            continue
        if kind == "ios":
            decoded: Any = _int_or_string(value) if isinstance(value, bytes) else value
        elif kind == "time":
            if not isinstance(value, bytes):
                continue
            seconds = dict(_fields(value)).get(1, 0)
            if not seconds and "p" not in flags:
                continue
            decoded = _time(value)
        elif kind in MESSAGES:
            if not isinstance(value, bytes):
                continue
            decoded = _message(kind, value)
            if not decoded and "r" not in flags:
                continue
        else:
            decoded = _scalar(kind, value)
            if "p" not in flags and "r" not in flags and decoded in ("", 0, False):
                continue
        if "r" in flags:
            out.setdefault(field, []).append(decoded)
        else:
            out[field] = decoded
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a protobuf request body; 415 for kinds not covered."""
    if not body.startswith(MAGIC):
        raise unsupported_media_type("protobuf body without the k8s envelope")
    try:
        api_version = kind = ""
        raw = b""
        for number, value in _fields(body[len(MAGIC) :]):
            if number == 1 and isinstance(value, bytes):
                for n2, v2 in _fields(value):
                    if n2 == 1 and isinstance(v2, bytes):
                        api_version = v2.decode()
                    elif n2 == 2 and isinstance(v2, bytes):
                        kind = v2.decode()
            elif number == 2 and isinstance(value, bytes):
                raw = value
        if kind not in KINDS:
            raise unsupported_media_type(
                f"protobuf bodies of kind {kind or 'unknown'} are not supported by the local "
                "API server; send JSON (for example kubectl apply -f)"
            )
        obj = _message(kind, raw)
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise unsupported_media_type(f"cannot decode protobuf body: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
