"""Discovery, OpenAPI and protobuf request bodies, over plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from rollouts.local.errors import ApiError
from rollouts.local.protobuf import decode_object
from rollouts.local.testing import ServerThread

from .conftest import WIDGET_CRD


def call(
    url: str, method: str = "GET", body: bytes | None = None, ctype: str = "application/json"
) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_discovery_documents(api_server: ServerThread) -> None:
    url = api_server.url
    assert call(f"{url}/api")[1]["versions"] == ["v1"]
    groups = {g["name"]: g for g in call(f"{url}/apis")[1]["groups"]}
    assert {
        "apps",
        "discovery.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
    } <= set(groups)
    assert groups["apps"]["preferredVersion"]["groupVersion"] == "apps/v1"
    apps = {r["name"]: r for r in call(f"{url}/apis/apps/v1")[1]["resources"]}
    assert apps["deployments"]["shortNames"] == ["deploy"]
    assert apps["deployments"]["namespaced"] is True
    assert "watch" in apps["deployments"]["verbs"]
    assert apps["deployments/scale"]["kind"] == "Scale"
    assert apps["deployments/scale"]["group"] == "autoscaling"
    assert apps["deployments/status"]["verbs"] == ["get", "patch", "update"]
    core = {r["name"]: r for r in call(f"{url}/api/v1")[1]["resources"]}
    assert core["namespaces"]["namespaced"] is False and "pods/log" in core
    # A CRD becomes a served resource (and an OpenAPI document) at once.
    status, _ = call(
        f"{url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "POST",
        json.dumps(WIDGET_CRD).encode(),
    )
    assert status == 201
    widgets = call(f"{url}/apis/test.rollouts.dev/v1")[1]["resources"]
    assert [(r["name"], r.get("shortNames")) for r in widgets][:1] == [("widgets", ["wd"])]
    root = call(f"{url}/openapi/v3")[1]["paths"]
    doc = call(url + root["apis/test.rollouts.dev/v1"]["serverRelativeURL"])[1]
    gvks = [s.get("x-kubernetes-group-version-kind") for s in doc["components"]["schemas"].values()]
    assert [{"group": "test.rollouts.dev", "version": "v1", "kind": "Widget"}] in gvks
    apps_doc = call(url + root["apis/apps/v1"]["serverRelativeURL"])[1]
    assert (
        "strategy" in apps_doc["components"]["schemas"]["io.k8s.api.DeploymentSpec"]["properties"]
    )


def test_errors_are_status_objects(api_server: ServerThread) -> None:
    url = api_server.url
    status, body = call(f"{url}/apis/nothing.example/v1/things")
    assert status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    status, body = call(f"{url}/api/v1/namespaces/default/configmaps", "POST", b"{not json")
    assert status == 400 and body["reason"] == "BadRequest"
    status, body = call(f"{url}/api/v1/namespaces/default/configmaps/x", "POST", b"{}")
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    status, body = call(
        f"{url}/api/v1/namespaces/default/configmaps", "POST", b"\x00\x01", "application/cbor"
    )
    assert status == 415


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _field(number: int, value: bytes | int | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def _entry(number: int, key: str, value: str) -> bytes:
    return _field(number, _field(1, key) + _field(2, value))


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + _field(1, _field(1, api_version) + _field(2, kind)) + _field(2, raw)


def test_protobuf_deployment_decodes_to_json() -> None:
    meta = _field(1, "web") + _field(3, "") + _field(7, 0) + _entry(11, "app", "web")
    container = (
        _field(1, "app")
        + _field(2, "rollouts-demo:v1")
        + _field(3, "python")
        + _field(4, "-V")
        + _field(6, _field(3, 8080))
        + _field(7, _field(1, "A") + _field(2, "1"))
    )
    template = _field(1, _entry(11, "app", "web")) + _field(2, _field(2, container))
    rolling = _field(1, _field(1, 1) + _field(3, "50%")) + _field(2, _field(1, 0) + _field(2, 2))
    spec = (
        _field(1, 0)
        + _field(2, _field(1, _field(1, "app") + _field(2, "web")))
        + _field(3, template)
        + _field(4, _field(1, "RollingUpdate") + _field(2, rolling))
    )
    obj = decode_object(_envelope("apps/v1", "Deployment", _field(1, meta) + _field(2, spec)))
    assert obj == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 0,  # a pointer field: an explicit zero is kept
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "rollouts-demo:v1",
                            "command": ["python"],
                            "args": ["-V"],
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "A", "value": "1"}],
                        }
                    ]
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "50%", "maxSurge": 2},
            },
        },
    }


def test_protobuf_of_other_kinds_is_refused() -> None:
    with pytest.raises(ApiError) as err:
        decode_object(_envelope("rbac.authorization.k8s.io/v1", "Role", b""))
    assert err.value.code == 415
    with pytest.raises(ApiError):
        decode_object(b"not protobuf")


def test_builtin_values_of_the_wrong_type_are_refused(api_server: ServerThread) -> None:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": "three",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    status, body = call(
        f"{api_server.url}/apis/apps/v1/namespaces/default/deployments",
        "POST",
        json.dumps(dep).encode(),
    )
    assert status == 400 and "spec.replicas" in body["message"]
    dep["spec"]["replicas"] = 2
    status, body = call(
        f"{api_server.url}/apis/apps/v1/namespaces/default/deployments",
        "POST",
        json.dumps(dep).encode(),
    )
    assert status == 201 and body["spec"]["replicas"] == 2


def test_malformed_writes_get_a_status_not_a_crash(api_server: ServerThread) -> None:
    base = f"{api_server.url}/api/v1/namespaces/default/configmaps"
    assert call(base, "POST", json.dumps({"metadata": {"name": "c"}}).encode())[0] == 201
    for body, ctype in (
        ({"metadata": "oops"}, "application/merge-patch+json"),
        ([{"op": "replace", "path": "/metadata", "value": 7}], "application/json-patch+json"),
        ({"data": {"k": {"nested": True}}}, "application/merge-patch+json"),
        ("just a string", "application/merge-patch+json"),
    ):
        status, reply = call(f"{base}/c", "PATCH", json.dumps(body).encode(), ctype)
        assert status in (400, 422), (body, reply)
        assert reply["kind"] == "Status"
        # Bodies that cannot be decoded into the kind are 400s, as kube-apiserver's are.
        assert (status, reply["reason"], reply["code"]) == (400, "BadRequest", 400), reply
    status, reply = call(f"{base}/c", "GET")
    assert status == 200 and reply["metadata"]["name"] == "c"


def test_malformed_metadata_is_refused_with_the_field(api_server: ServerThread) -> None:
    base = f"{api_server.url}/api/v1/namespaces/default/configmaps"
    for meta, field in (
        ({"name": "a", "ownerReferences": "x"}, "metadata.ownerReferences"),
        ({"name": "a", "ownerReferences": [{"kind": "X"}]}, "metadata.ownerReferences[0].uid"),
        ({"name": "a", "finalizers": [1]}, "metadata.finalizers"),
        ({"name": "a", "annotations": {"k": 1}}, "metadata.annotations"),
        ({"name": "a", "labels": {"k": "not valid!"}}, "metadata.labels"),
    ):
        status, reply = call(base, "POST", json.dumps({"metadata": meta}).encode())
        assert status == 422, reply
        assert field in [c["field"] for c in reply["details"]["causes"]]
