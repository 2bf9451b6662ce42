"""The executor against an in-memory API: it writes every route the Rollout names, in
their namespaces, retries a conflicting write, records managed routes so that
``observe`` reads them back, and stops at the first failure (but not for an Event)."""

from __future__ import annotations

import copy
from typing import Any

from rollouts.api.rollout import HeaderRoutingMatch, StringMatch
from rollouts.canary.types import EmitEvent, HeaderRoute, PointService, SetHeaderRoute, SetWeight
from rollouts.kube import names
from rollouts.kube.api import ApiError, Conflict, NotFound
from rollouts.kube.executor import Executor
from rollouts.kube.observe import route_view
from tests.canary.support import T0, make_rollout

Obj = dict[str, Any]


class MemoryKube:
    """Just the calls the executor makes, over a dict of objects."""

    def __init__(self, *objects: Obj) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.conflicts = 0
        self.refuse_creates = False
        for obj in objects:
            meta = obj["metadata"]
            self.objects[(obj["kind"], meta.get("namespace", "default"), meta["name"])] = obj

    def get(self, kind: names.Kind, name: str, namespace: str | None = None) -> Obj:
        found = self.objects.get((kind[1], namespace or "", name))
        if found is None:
            raise NotFound(f"get {kind[1]} {namespace}/{name}: 404", 404)
        return copy.deepcopy(found)

    def find(self, kind: names.Kind, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self.get(kind, name, namespace)
        except NotFound:
            return None

    def replace(self, kind: names.Kind, body: Obj, namespace: str | None = None) -> Obj:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("the object has been modified", 409)
        self.objects[(kind[1], namespace or "", body["metadata"]["name"])] = copy.deepcopy(body)
        return body

    def patch(self, kind: names.Kind, name: str, patch: Obj, namespace: str | None = None,
              *, status: bool = False) -> Obj:
        obj = self.get(kind, name, namespace)
        obj.setdefault("spec", {}).update(patch.get("spec") or {})
        self.objects[(kind[1], namespace or "", name)] = obj
        return obj

    def create(self, kind: names.Kind, body: Obj, namespace: str | None = None) -> Obj:
        if self.refuse_creates:
            raise ApiError(f"create {kind[1]}: 403 Forbidden", 403)
        return body


def http_route(name: str, namespace: str, kind: str = "HTTPRoute") -> Obj:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [
                {"name": "web-stable", "port": 80, "weight": 100},
                {"name": "web-canary", "port": 80, "weight": 0}]}]}}


ROLLOUT = make_rollout(trafficRouting={
    "gatewayAPI": {"httpRoutes": [{"name": "web"}],
                   "grpcRoutes": [{"name": "rpc", "namespace": "infra"}]},
    "managedRoutes": [{"name": "beta"}]})


def weights(kube: MemoryKube, kind: str, namespace: str, name: str) -> list[int]:
    rule = kube.objects[(kind, namespace, name)]["spec"]["rules"][-1]
    return [ref["weight"] for ref in rule["backendRefs"]]


def executor(kube: MemoryKube) -> Executor:
    return Executor(kube, ROLLOUT, {}, None, 1, T0)  # type: ignore[arg-type]


def test_set_weight_writes_every_named_route_in_its_namespace_through_a_conflict() -> None:
    kube = MemoryKube(http_route("web", "default"), http_route("rpc", "infra", "GRPCRoute"))
    kube.conflicts = 1
    assert executor(kube).run([SetWeight(25, "new", "old")]) is None
    assert kube.conflicts == 0, "the conflict was met (and the write retried)"
    assert weights(kube, "HTTPRoute", "default", "web") == [750_000, 250_000]
    assert weights(kube, "GRPCRoute", "infra", "rpc") == [750_000, 250_000]


def test_a_header_route_written_is_read_back_by_observe_and_removed() -> None:
    kube = MemoryKube(http_route("web", "default"), http_route("rpc", "infra", "GRPCRoute"))
    match = (HeaderRoutingMatch(header_name="X-Beta", header_value=StringMatch(exact="1")),)
    assert executor(kube).run([SetHeaderRoute("beta", match)]) is None
    written = kube.objects[("HTTPRoute", "default", "web")]
    view = route_view(written, "web", "default", "HTTPRoute", ROLLOUT)
    assert view.header_routes == (HeaderRoute("beta", match),)
    assert executor(kube).run([SetHeaderRoute("beta", ())]) is None
    removed = kube.objects[("HTTPRoute", "default", "web")]
    assert route_view(removed, "web", "default", "HTTPRoute", ROLLOUT).header_routes == ()
    assert [r.get("name") for r in removed["spec"]["rules"]] == [None]


def test_the_first_failure_stops_the_rest_but_an_event_never_does() -> None:
    kube = MemoryKube(http_route("web", "default"),
                      {"kind": "Service", "metadata": {"name": "web-canary"}, "spec": {}})
    kube.refuse_creates = True
    failure = executor(kube).run([EmitEvent("R", "m"), SetWeight(10, "new", "old"),
                                  PointService("web-canary", "new")])
    assert failure is not None and failure.startswith("SetWeight failed: get GRPCRoute infra/rpc")
    assert failure == "SetWeight failed: get GRPCRoute infra/rpc: 404"
    assert weights(kube, "HTTPRoute", "default", "web") == [900_000, 100_000], \
        "routes before the failing one are written"
    assert kube.objects[("Service", "default", "web-canary")]["spec"] == {}, \
        "nothing after the failure is done"
