"""The embedded API server driven by the official ``kubernetes`` Python client."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from rollouts.local.server import LocalServer
from rollouts.local.testing import ServerThread

from .conftest import WIDGET_CRD

GROUP, VERSION, PLURAL = "test.rollouts.dev", "v1", "widgets"


@pytest.fixture
def k8s(api_server: ServerThread) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(api_server.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def widgets(k8s: client.ApiClient) -> client.CustomObjectsApi:
    client.ApiextensionsV1Api(k8s).create_custom_resource_definition(WIDGET_CRD)
    return client.CustomObjectsApi(k8s)


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": "small", **spec},
    }


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def test_crud_metadata_and_errors(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    created = core.create_namespaced_config_map("default", cm("one", app="a"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    rv1 = int(created.metadata.resource_version)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", cm("one"))
    assert err.value.status == 409 and status_of(err.value)["reason"] == "AlreadyExists"
    created.data = {"k": "w"}
    updated = core.replace_namespaced_config_map("one", "default", created)
    assert int(updated.metadata.resource_version) > rv1
    # The old resourceVersion is now stale: optimistic concurrency says 409 Conflict.
    created.data = {"k": "x"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("one", "default", created)
    assert err.value.status == 409 and status_of(err.value)["reason"] == "Conflict"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("missing", "default")
    body = status_of(err.value)
    assert (err.value.status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    assert body["details"] == {"name": "missing", "kind": "configmaps"}
    core.delete_namespaced_config_map("one", "default")
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("one", "default")


def test_list_selectors_and_deletecollection(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        core.create_namespaced_config_map("default", cm(name, tier=tier))
    names = [
        i.metadata.name
        for i in core.list_namespaced_config_map("default", label_selector="tier=web").items
    ]
    assert names == ["a", "b"]
    page = core.list_namespaced_config_map("default", limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = core.list_namespaced_config_map("default", limit=2, _continue=page.metadata._continue)
    assert [i.metadata.name for i in rest.items] == ["c"]
    core.delete_collection_namespaced_config_map("default", label_selector="tier=web")
    assert [i.metadata.name for i in core.list_namespaced_config_map("default").items] == ["c"]


def test_invalid_custom_object_reports_field_causes(widgets: client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as err:
        widgets.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("w", size="huge", replicas=20)
        )
    body = status_of(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    fields = sorted(c["field"] for c in body["details"]["causes"])
    assert fields == ["spec.replicas", "spec.size"]


def test_watch_resumes_from_resource_version(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map("default", cm("before"))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", cm("after1"))
    core.patch_namespaced_config_map("after1", "default", {"data": {"k": "2"}})
    core.delete_namespaced_config_map("before", "default")
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=2
    ):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "after1"), ("MODIFIED", "after1"), ("DELETED", "before")]


def test_watch_too_old_resource_version_is_410(tmp_path: Path) -> None:
    with ServerThread(kubeconfig=tmp_path / "kc", watch_log_size=5) as srv:
        api = config.new_client_from_config(config_file=str(srv.kubeconfig))
        core = client.CoreV1Api(api)
        old_rv = core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(10):
            core.create_namespaced_config_map("default", cm(f"c{i}"))
        with pytest.raises(ApiException) as err:
            for _ev in watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=old_rv,
                timeout_seconds=2,
            ):
                pass
        assert err.value.status == 410
        api.close()


def _raw_watch(url: str, seconds: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    with urllib.request.urlopen(url, timeout=seconds + 5) as resp:
        for line in resp:
            events.append(json.loads(line))
            if time.monotonic() > deadline:
                break
    return events


def test_watch_initial_events_and_bookmarks(
    api_server: ServerThread, k8s: client.ApiClient
) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map("default", cm("x"))
    url = (
        f"{api_server.url}/api/v1/namespaces/default/configmaps?watch=1"
        "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        "&allowWatchBookmarks=true&timeoutSeconds=2"
    )
    events = _raw_watch(url, 1.5)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "x"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    # The server sends periodic bookmarks (every 0.5 s in the tests).
    assert sum(1 for e in events if e["type"] == "BOOKMARK") >= 2


def test_status_subresource_and_generation(widgets: client.CustomObjectsApi) -> None:
    w = widgets.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, {**widget("w"), "status": {"phase": "Ignored"}}
    )
    assert "phase" not in w.get("status", {})
    assert w["metadata"]["generation"] == 1
    # Custom resources refuse an update without a resourceVersion, as Kubernetes does.
    unconditional = {**widget("w"), "spec": {"size": "large"}}
    with pytest.raises(ApiException) as err:
        widgets.replace_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "w", unconditional
        )
    assert err.value.status == 422 and "metadata.resourceVersion" in err.value.body
    s = widgets.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w",
        {"status": {"phase": "Ready"}, "spec": {"size": "large"}},
    )
    assert s["status"]["phase"] == "Ready" and s["spec"]["size"] == "small"
    assert s["metadata"]["generation"] == 1
    m = widgets.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"metadata": {"labels": {"x": "y"}}}
    )
    assert m["metadata"]["generation"] == 1
    m = widgets.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w",
        {"spec": {"size": "large"}, "status": {"phase": "Gone"}},
    )
    assert m["metadata"]["generation"] == 2 and m["status"]["phase"] == "Ready"
    # A write that changes nothing keeps the resourceVersion.
    again = widgets.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"spec": {"size": "large"}}
    )
    assert again["metadata"]["resourceVersion"] == m["metadata"]["resourceVersion"]


def test_scale_subresource(k8s: client.ApiClient, widgets: client.CustomObjectsApi) -> None:
    apps = client.AppsV1Api(k8s)
    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "d"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        },
    )
    scale = apps.read_namespaced_deployment_scale("d", "default")
    assert scale.spec.replicas == 2 and scale.status.selector == "app=d"
    apps.patch_namespaced_deployment_scale("d", "default", {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("d", "default").spec.replicas == 5
    widgets.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("w", replicas=1)
    )
    widgets.patch_namespaced_custom_object_scale(
        GROUP, VERSION, "default", PLURAL, "w", {"spec": {"replicas": 3}}
    )
    got = widgets.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    assert got["spec"]["replicas"] == 3
    with pytest.raises(ApiException) as err:  # the schema's maximum still holds
        widgets.patch_namespaced_custom_object_scale(
            GROUP, VERSION, "default", PLURAL, "w", {"spec": {"replicas": 50}}
        )
    assert err.value.status == 422


def test_finalizers_hold_deletion(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    body = cm("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map("default", body)
    core.delete_namespaced_config_map("held", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    core.create_namespace({"metadata": {"name": "team"}})
    ns = core.read_namespace("team")
    assert ns.spec.finalizers == ["kubernetes"] and ns.status.phase == "Active"
    body = cm("blocker")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map("team", body)
    core.delete_namespace("team")
    time.sleep(0.5)
    # The namespace waits for its contents, which wait for their finalizers.
    assert core.read_namespace("team").status.phase == "Terminating"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("team", cm("late"))
    assert err.value.status == 403
    core.patch_namespaced_config_map("blocker", "team", {"metadata": {"finalizers": None}})
    _wait_gone(core.read_namespace, "team")
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "held", "default", {"metadata": {"finalizers": ["example.com/hold", "new/one"]}}
        )
    assert err.value.status == 422
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", "default")
    assert err.value.status == 404


def _wait_gone(fn: Any, *args: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fn(*args)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.1)
    raise AssertionError(f"{args} still exists")


def test_garbage_collection_background_and_foreground(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)

    def owned(name: str, owner: Any) -> None:
        body = cm(name)
        body["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner.metadata.name,
                "uid": owner.metadata.uid,
            }
        ]
        core.create_namespaced_config_map("default", body)

    owner = core.create_namespaced_config_map("default", cm("owner"))
    owned("child", owner)
    child = core.read_namespaced_config_map("child", "default")
    owned("grandchild", child)
    core.delete_namespaced_config_map("owner", "default")
    _wait_gone(core.read_namespaced_config_map, "grandchild", "default")
    _wait_gone(core.read_namespaced_config_map, "child", "default")

    fg = core.create_namespaced_config_map("default", cm("fg"))
    held = cm("held-child")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    held["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "fg", "uid": fg.metadata.uid}
    ]
    core.create_namespaced_config_map("default", held)
    core.delete_namespaced_config_map("fg", "default", propagation_policy="Foreground")
    time.sleep(0.5)
    # The owner waits for its dependent, which waits for its finalizer.
    assert (
        "foregroundDeletion" in core.read_namespaced_config_map("fg", "default").metadata.finalizers
    )
    assert core.read_namespaced_config_map("held-child", "default").metadata.deletion_timestamp
    core.patch_namespaced_config_map("held-child", "default", {"metadata": {"finalizers": None}})
    _wait_gone(core.read_namespaced_config_map, "fg", "default")


def test_state_persists_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerThread(data_dir=data, kubeconfig=tmp_path / "kc1") as srv:
        api = config.new_client_from_config(config_file=str(srv.kubeconfig))
        client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("kept")
        )
        rv = int(
            client.CoreV1Api(api).list_namespaced_config_map("default").metadata.resource_version
        )
        api.close()
    assert (data / "state.db").exists()
    with ServerThread(data_dir=data, kubeconfig=tmp_path / "kc2") as srv:
        api = config.new_client_from_config(config_file=str(srv.kubeconfig))
        got = client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "kept"
        )
        assert got["spec"]["size"] == "small"
        made = client.CoreV1Api(api).create_namespaced_config_map("default", cm("new"))
        assert int(made.metadata.resource_version) > rv
        api.close()


def test_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalServer(host="0.0.0.0")
    LocalServer(host="127.0.0.2")  # any loopback address is fine


def test_one_control_plane_per_data_directory(tmp_path: Path) -> None:
    with (
        ServerThread(data_dir=tmp_path / "data", kubeconfig=tmp_path / "kc"),
        pytest.raises(ValueError, match="in use by another local control plane"),
    ):
        LocalServer(data_dir=tmp_path / "data")


def test_pagination_is_stable_under_concurrent_creates(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    for name in ("b", "d", "f"):
        core.create_namespaced_config_map("default", cm(name))
    first = core.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in first.items] == ["b", "d"]
    core.create_namespaced_config_map("default", cm("a"))  # sorts before the page boundary
    core.create_namespaced_config_map("default", cm("e"))
    rest = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert [i.metadata.name for i in rest.items] == ["e", "f"]


def test_watch_with_selector_sees_objects_enter_and_leave(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map("default", cm("x", tier="web"))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"tier": "db"}}})
    core.create_namespaced_config_map("default", cm("y", tier="db"))
    core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"tier": "web"}}})
    core.patch_namespaced_config_map("x", "default", {"data": {"k": "changed"}})
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=rv,
        label_selector="tier=web",
        timeout_seconds=2,
    ):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("DELETED", "x"), ("ADDED", "x"), ("MODIFIED", "x")]


def test_old_events_expire(api_server: ServerThread, k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    for name, stamp in (("old", "2020-01-01T00:00:00Z"), ("new", None)):
        core.create_namespaced_event(
            "default",
            {
                "metadata": {"name": name},
                "involvedObject": {"kind": "Pod", "name": "p"},
                "reason": "Test",
                "message": name,
                "lastTimestamp": stamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    async def expire() -> int:
        assert api_server.server is not None
        return api_server.server.gc.expire_events()

    assert api_server.call(expire) == 1
    assert [e.metadata.name for e in core.list_namespaced_event("default").items] == ["new"]
