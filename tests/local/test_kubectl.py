"""The embedded API server driven by the real kubectl."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
import yaml

from .conftest import GATEWAY_CRDS, REPO, WIDGET_CRD, Kubectl

pytestmark = pytest.mark.needs_kubectl


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "test.rollouts.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name, "labels": {"tier": spec.pop("tier", "web")}},
        "spec": {"size": "small", **spec},
    }


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "rollouts-demo:v1",
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        },
                        {"name": "side", "image": "busybox:1"},
                    ]
                },
            },
        },
    }


def test_version_and_api_resources(kubectl: Kubectl) -> None:
    out = json.loads(kubectl("version", "-o", "json"))
    assert out["serverVersion"]["gitVersion"].startswith("v1.")
    resources = kubectl("api-resources", "-o", "wide")
    for name in ("deployments", "endpointslices", "leases", "customresourcedefinitions"):
        assert name in resources
    assert "deploy" in kubectl("api-resources", "--api-group=apps")


def test_apply_crd_serves_resource_with_printer_columns(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    kubectl("wait", "--for=condition=Established", "crd/widgets.test.rollouts.dev")
    kubectl.apply([widget("a", size="large", replicas=3), widget("b")])
    table = kubectl("get", "widgets")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["NAME", "SIZE", "REPLICAS"]
    assert lines[1].split()[:3] == ["a", "large", "3"]
    # Defaults from the schema are applied; short names work.
    b = kubectl.get("wd", "b")
    assert b["spec"]["replicas"] == 1
    assert b["metadata"]["generation"] == 1
    assert b["metadata"]["uid"]
    assert b["metadata"]["creationTimestamp"]


def test_gateway_api_crds_and_project_crds_apply(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(GATEWAY_CRDS))
    for extra in sorted((REPO / "crds").glob("*.yaml")):
        kubectl("apply", "-f", str(extra))
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": "stable", "port": 80, "weight": 90},
                        {"name": "canary", "port": 80, "weight": 10},
                    ]
                }
            ],
        },
    }
    kubectl.apply(route)
    got = kubectl.get("httproute", "r")
    # Defaults from the upstream schema are applied (path match defaults to PathPrefix /).
    assert got["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert [b["weight"] for b in got["spec"]["rules"][0]["backendRefs"]] == [90, 10]


def test_invalid_objects_are_refused_with_the_field_named(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    cases = [
        (widget("x", replicas=11), "spec.replicas"),
        (widget("x", size="huge"), "spec.size"),
        (widget("x", color="Red1"), "spec.color"),
        (widget("x", tags=["a", "b", "c"]), "spec.tags"),
        (widget("x", replicas="three"), "spec.replicas"),
    ]
    for obj, field in cases:
        proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(obj), check=False)
        assert proc.returncode != 0
        assert "is invalid" in proc.stderr and field in proc.stderr, proc.stderr
    missing = widget("x")
    del missing["spec"]["size"]
    proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(missing), check=False)
    assert "spec.size: Required value" in proc.stderr
    unknown = widget("x", bogus=1)
    proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(unknown), check=False)
    assert proc.returncode != 0 and 'unknown field "spec.bogus"' in proc.stderr
    # Without validation the unknown field is pruned, as Kubernetes does.
    kubectl.run("apply", "--validate=false", "-f", "-", input=yaml.safe_dump(unknown))
    assert "bogus" not in kubectl.get("widget", "x")["spec"]
    mismatched = deployment("d")
    mismatched["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(mismatched), check=False)
    assert "spec.template.metadata.labels" in proc.stderr and "does not match" in proc.stderr
    bad_ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_Name"}}
    proc = kubectl.run("create", "-f", "-", input=yaml.safe_dump(bad_ns), check=False)
    assert "metadata.name" in proc.stderr and "RFC 1123" in proc.stderr


def test_get_with_label_selectors(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    kubectl.apply([widget("a", tier="web"), widget("b", tier="db"), widget("c", tier="cache")])
    kubectl("label", "widget", "c", "extra=yes")

    def names(*sel: str) -> list[str]:
        return kubectl("get", "widgets", *sel, "-o", "name").split()

    assert names("-l", "tier=web") == ["widget.test.rollouts.dev/a"]
    assert names("-l", "tier!=web") == ["widget.test.rollouts.dev/b", "widget.test.rollouts.dev/c"]
    assert names("-l", "tier in (db,cache)") == [
        "widget.test.rollouts.dev/b",
        "widget.test.rollouts.dev/c",
    ]
    assert names("-l", "tier notin (db,cache)") == ["widget.test.rollouts.dev/a"]
    assert names("-l", "extra") == ["widget.test.rollouts.dev/c"]
    assert names("-l", "!extra") == ["widget.test.rollouts.dev/a", "widget.test.rollouts.dev/b"]
    assert names("--field-selector", "metadata.name=b") == ["widget.test.rollouts.dev/b"]


def test_apply_updates_builtin_with_strategic_merge(kubectl: Kubectl) -> None:
    dep = deployment("web")
    kubectl.apply(dep)
    changed = copy.deepcopy(dep)
    app = changed["spec"]["template"]["spec"]["containers"][0]
    app["env"] = [{"name": "A", "value": "10"}]  # B removed, A changed
    kubectl.apply(changed)
    got = kubectl.get("deploy", "web")
    containers = got["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "side"]
    assert containers[0]["env"] == [{"name": "A", "value": "10"}]
    assert got["metadata"]["generation"] == 2
    # A strategic patch merges the containers list by name.
    kubectl(
        "patch",
        "deploy",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:2"}]}}}}',
    )
    containers = kubectl.get("deploy", "web")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("app", "rollouts-demo:v1"),
        ("side", "busybox:2"),
    ]
    # A label change is not a spec change: the generation stays.
    kubectl("label", "deploy", "web", "x=y")
    assert kubectl.get("deploy", "web")["metadata"]["generation"] == 3


def test_merge_json_patch_and_replace(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    kubectl.apply(widget("a", tags=["one"]))
    kubectl("patch", "widget", "a", "--type", "merge", "-p", '{"spec":{"color":"blue"}}')
    kubectl(
        "patch",
        "widget",
        "a",
        "--type",
        "json",
        "-p",
        '[{"op":"add","path":"/spec/tags/-","value":"two"}]',
    )
    got = kubectl.get("widget", "a")
    assert got["spec"]["color"] == "blue" and got["spec"]["tags"] == ["one", "two"]
    proc = kubectl.run("patch", "widget", "a", "-p", '{"spec":{"color":"red"}}', check=False)
    assert proc.returncode != 0 and "strategic-merge-patch" in proc.stderr
    proc = kubectl.run(
        "patch", "widget", "a", "--type", "merge", "-p", '{"spec":{"replicas":-1}}', check=False
    )
    assert "spec.replicas" in proc.stderr
    got["spec"]["size"] = "large"
    del got["metadata"]["annotations"]
    kubectl("replace", "-f", "-", input=yaml.safe_dump(got))
    assert kubectl.get("widget", "a")["spec"]["size"] == "large"
    # A replace with a stale resourceVersion is a conflict.
    proc = kubectl.run("replace", "-f", "-", input=yaml.safe_dump(got), check=False)
    assert proc.returncode != 0 and "the object has been modified" in proc.stderr


def test_scale_and_status_subresources(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    kubectl.apply(widget("a", replicas=2))
    kubectl("scale", "widget", "a", "--replicas=4")
    assert kubectl.get("widget", "a")["spec"]["replicas"] == 4
    kubectl(
        "patch",
        "widget",
        "a",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Ready"},"spec":{"replicas":9}}',
    )
    got = kubectl.get("widget", "a")
    assert got["status"]["phase"] == "Ready" and got["spec"]["replicas"] == 4
    kubectl(
        "patch",
        "widget",
        "a",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Lost"},"spec":{"size":"large"}}',
    )
    got = kubectl.get("widget", "a")
    assert got["status"]["phase"] == "Ready" and got["spec"]["size"] == "large"


def test_delete_cascades_to_owned_objects(kubectl: Kubectl) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
    uid = kubectl.get("configmap", "owner")["metadata"]["uid"]
    ref = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]
    for name in ("dep1", "dep2"):
        kubectl.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "ownerReferences": ref},
            }
        )
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kept", "ownerReferences": ref},
        }
    )
    kubectl("delete", "configmap", "kept", "--cascade=orphan")  # kept itself goes
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "orphan-owner"}})
    ouid = kubectl.get("configmap", "orphan-owner")["metadata"]["uid"]
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "orphan",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "orphan-owner", "uid": ouid}
                ],
            },
        }
    )
    kubectl("delete", "configmap", "orphan-owner", "--cascade=orphan")
    kubectl("delete", "configmap", "owner")  # background cascade
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        names = kubectl("get", "configmaps", "-o", "name").split()
        if not {"configmap/dep1", "configmap/dep2"} & set(names):
            break
        time.sleep(0.2)
    assert names == ["configmap/orphan"]
    assert "ownerReferences" not in kubectl.get("configmap", "orphan")["metadata"]
    proc = kubectl.run("get", "configmap", "owner", check=False)
    assert 'configmaps "owner" not found' in proc.stderr


def test_get_watch_sees_changes(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    kubectl.apply(widget("a"))
    proc = kubectl.popen("get", "widgets", "-w", "-o", "json", "--output-watch-events")
    try:
        time.sleep(1.0)
        kubectl("patch", "widget", "a", "--type=merge", "-p", '{"spec":{"color":"green"}}')
        kubectl.apply(widget("b"))
        kubectl("delete", "widget", "a")
        time.sleep(1.0)
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=10)
    decoder = json.JSONDecoder()
    events, idx = [], 0
    out = out.strip()
    while idx < len(out):
        ev, end = decoder.raw_decode(out, idx)
        events.append((ev["type"], ev["object"]["metadata"]["name"]))
        idx = end
        while idx < len(out) and out[idx].isspace():
            idx += 1
    assert events == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_get_watch_table_output(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    proc = kubectl.popen("get", "widgets", "-w")
    try:
        time.sleep(1.0)
        kubectl.apply(widget("late", size="large"))
        time.sleep(1.0)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert lines[-1][:2] == ["late", "large"]


def test_explain_shows_crd_fields(kubectl: Kubectl) -> None:
    kubectl.apply(WIDGET_CRD)
    out = kubectl("explain", "widgets.spec")
    assert "Desired state of the widget." in out
    assert "size" in out and "How big the widget is." in out
    kubectl("apply", "-f", str(GATEWAY_CRDS / "httproutes.yaml"))
    out = kubectl("explain", "httproute.spec.rules.backendRefs.weight")
    assert "weight" in out.lower()


def test_namespace_delete_removes_contents(kubectl: Kubectl) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    kubectl.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": "team"}}
    )
    kubectl("delete", "namespace", "team", "--wait=true", "--timeout=20s")
    proc = kubectl.run("get", "configmap", "c1", "-n", "team", check=False)
    assert "not found" in proc.stderr
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2"}}
    proc = kubectl.run("apply", "-n", "nowhere", "-f", "-", input=yaml.safe_dump(cm), check=False)
    assert 'namespaces "nowhere" not found' in proc.stderr


def test_generator_commands_send_protobuf_that_the_server_decodes(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "team")
    kubectl("create", "configmap", "c", "-n", "team", "--from-literal=a=b")
    kubectl("create", "secret", "generic", "s", "--from-literal=user=pw")
    kubectl("create", "deployment", "d", "--image=rollouts-demo:v1", "--replicas=2", "--port=8080")
    kubectl("create", "service", "clusterip", "d", "--tcp=80:8080")
    kubectl("create", "serviceaccount", "robot")
    assert kubectl.get("configmap", "c", "-n", "team")["data"] == {"a": "b"}
    assert kubectl.get("secret", "s")["data"] == {"user": "cHc="}
    dep = kubectl.get("deployment", "d")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "d"}}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "rollouts-demo:v1"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["imagePullPolicy"] == "IfNotPresent"  # defaults as kube-apiserver
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    svc = kubectl.get("service", "d")
    assert svc["spec"]["ports"][0]["port"] == 80
    assert svc["spec"]["ports"][0]["targetPort"] == 8080


def test_dry_run_and_diff_change_nothing(kubectl: Kubectl) -> None:
    kubectl.apply(deployment("web", replicas=2))
    changed = deployment("web", replicas=5)
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(changed))
    assert "server dry run" in out
    assert kubectl.get("deploy", "web")["spec"]["replicas"] == 2
    proc = kubectl.run("diff", "-f", "-", input=yaml.safe_dump(changed), check=False)
    assert proc.returncode == 1 and "+  replicas: 5" in proc.stdout
    kubectl("delete", "deploy", "web", "--dry-run=server")
    assert kubectl.get("deploy", "web")["spec"]["replicas"] == 2
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(changed))
    assert kubectl.get("deploy", "web")["spec"]["replicas"] == 5


def test_builtin_kinds_explain_and_refuse_unknown_fields(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy")
    assert "DeploymentStrategy" in out and "rollingUpdate" in out
    assert "containerPort" in kubectl("explain", "pods.spec.containers.ports")
    typo = deployment("web")
    typo["spec"]["template"]["spec"]["containers"][1]["imagee"] = "busybox:2"
    proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(typo), check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.template.spec.containers[1].imagee"' in proc.stderr
    kubectl("apply", "--validate=false", "-f", "-", input=yaml.safe_dump(typo))
    stored = kubectl.get("deploy", "web")["spec"]["template"]["spec"]["containers"][1]
    assert "imagee" not in stored  # dropped, as kube-apiserver drops unknown fields
