"""A small kopf operator runs against the embedded API server unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from rollouts.local.testing import ServerThread

from .conftest import WIDGET_CRD

GROUP, VERSION, PLURAL = "test.rollouts.dev", "v1", "widgets"


async def _eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            result = await asyncio.to_thread(check)
            if result:
                return result
        except (AssertionError, ApiException) as exc:
            last = exc
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met in {timeout}s: {last}")


async def test_kopf_operator_handles_create_update_delete(api_server: ServerThread) -> None:
    api = config.new_client_from_config(config_file=str(api_server.kubeconfig))
    client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
    objects = client.CustomObjectsApi(api)
    registry = kopf.OperatorRegistry()
    deleted: list[str] = []
    url = api_server.url

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, insecure=True)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.watching.server_timeout = 5
        settings.persistence.finalizer = "test.rollouts.dev/finalizer"

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    def created(spec: Any, patch: Any, **_: Any) -> None:
        patch.status["phase"] = f"Created-{spec['size']}"

    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec.size", registry=registry)
    def resized(new: Any, patch: Any, **_: Any) -> None:
        patch.status["phase"] = f"Resized-{new}"

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def removed(name: str, **_: Any) -> None:
        deleted.append(name)

    stop = asyncio.Event()
    logging.getLogger("kopf").setLevel(logging.WARNING)
    task = asyncio.create_task(
        kopf.operator(registry=registry, clusterwide=True, standalone=True, stop_flag=stop)
    )
    try:
        await asyncio.to_thread(
            objects.create_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Widget",
                "metadata": {"name": "w1"},
                "spec": {"size": "small"},
            },
        )

        def get() -> dict[str, Any]:
            got: dict[str, Any] = objects.get_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, "w1"
            )
            return got

        got = await _eventually(
            lambda: (g := get()).get("status", {}).get("phase") == "Created-small" and g
        )
        # kopf put its finalizer on the object because it has a deletion handler.
        assert "test.rollouts.dev/finalizer" in got["metadata"]["finalizers"]
        await asyncio.to_thread(
            objects.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "w1",
            {"spec": {"size": "large"}},
        )
        await _eventually(lambda: get().get("status", {}).get("phase") == "Resized-large")
        await asyncio.to_thread(
            objects.delete_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "w1"
        )

        def gone() -> bool:
            try:
                get()
            except ApiException as exc:
                return exc.status == 404
            return False

        await _eventually(gone)
        assert deleted == ["w1"]
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(task, 15)
        api.close()
