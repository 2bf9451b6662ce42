"""Merge, JSON and strategic merge patches as kube-apiserver applies them."""

from __future__ import annotations

import pytest

from rollouts.local.errors import ApiError
from rollouts.local.patch import json_merge_patch, json_patch, strategic_merge_patch


def test_json_merge_patch_replaces_lists_and_deletes_nulls() -> None:
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert json_merge_patch(doc, {"a": {"b": None, "d": 3}, "l": [3]}) == {
        "a": {"c": 2, "d": 3},
        "l": [3],
    }


def test_json_patch_operations_and_failures() -> None:
    doc = {"spec": {"tags": ["a"], "n": 1}}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/spec/tags/-", "value": "b"},
            {"op": "add", "path": "/spec/tags/0", "value": "z"},
            {"op": "replace", "path": "/spec/n", "value": 2},
            {"op": "copy", "from": "/spec/n", "path": "/spec/m"},
            {"op": "move", "from": "/spec/m", "path": "/spec/k~1x"},
            {"op": "test", "path": "/spec/n", "value": 2},
            {"op": "remove", "path": "/spec/tags/1"},
        ],
    )
    assert out == {"spec": {"tags": ["z", "b"], "n": 2, "k/x": 2}}
    assert doc == {"spec": {"tags": ["a"], "n": 1}}  # the input is not modified
    with pytest.raises(ApiError) as err:
        json_patch(doc, [{"op": "test", "path": "/spec/n", "value": 5}])
    assert err.value.code == 422
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "remove", "path": "/spec/missing"}])
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "replace", "path": "/spec/tags/7", "value": 1}])


def _pod() -> dict:
    return {
        "metadata": {"finalizers": ["a"]},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "x:1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80, "name": "http"}],
                },
                {"name": "side", "image": "y:1"},
            ]
        },
    }


def test_strategic_merge_merges_lists_by_key() -> None:
    out = strategic_merge_patch(
        _pod(),
        {
            "spec": {
                "containers": [
                    {"name": "side", "image": "y:2"},
                    {
                        "name": "app",
                        "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    },
                    {"name": "new", "image": "z"},
                ]
            }
        },
    )
    cs = out["spec"]["containers"]
    assert [c["name"] for c in cs] == ["app", "side", "new"]
    assert cs[0]["image"] == "x:1" and cs[1]["image"] == "y:2"
    assert cs[0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert cs[0]["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}]


def test_strategic_merge_directives() -> None:
    out = strategic_merge_patch(
        _pod(),
        {
            "metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {
                "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                "containers": [
                    {"name": "app", "$patch": "delete"},
                    {"name": "side", "image": "y:3"},
                ],
            },
        },
    )
    assert out["metadata"]["finalizers"] == ["b"]
    assert out["spec"]["containers"] == [{"name": "side", "image": "y:3"}]
    replaced = strategic_merge_patch(
        _pod(), {"spec": {"containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}]}}
    )
    assert replaced["spec"]["containers"] == [{"name": "only", "image": "o"}]
    retained = strategic_merge_patch(
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    )
    assert retained["spec"]["strategy"] == {"type": "Recreate"}


def test_strategic_merge_service_ports_merge_on_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}})
    assert out["spec"]["ports"] == [
        {"port": 80, "name": "http"},
        {"port": 443, "name": "https", "targetPort": 8443},
    ]
