"""The EndpointSlice and Endpoints of a Service are controlled by that Service."""

from __future__ import annotations

from rollouts.local.api import Api
from rollouts.local.store import Store
from rollouts.local.workloads.endpoints import EndpointSliceController


def test_slice_and_endpoints_name_their_service_as_controller() -> None:
    api = Api(Store())
    service = api.create(api.type_of("", "v1", "services"), "default", {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
    })
    EndpointSliceController(api).reconcile("default", "web")
    expected = [{"apiVersion": "v1", "kind": "Service", "name": "web",
                 "uid": service["metadata"]["uid"], "controller": True,
                 "blockOwnerDeletion": True}]
    endpoints = api.store.get("/endpoints", "default", "web")
    slices = list(api.store.items("discovery.k8s.io/endpointslices", "default"))
    assert endpoints is not None and endpoints["metadata"]["ownerReferences"] == expected
    assert [s["metadata"]["ownerReferences"] for s in slices] == [expected]
