"""A small facade over the Kubernetes API: get, list, create, patch, replace of plain dicts.

Everything the operator does goes through here, so the calls it makes (and so the
RBAC it needs) are in one place. Errors are classified: ``NotFound`` and
``Conflict`` are expected in normal operation; ``TemporaryError`` is worth a retry;
anything else is permanent for that object.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from rollouts.kube.names import Kind

__all__ = ["AlreadyExists", "ApiError", "Conflict", "Kube", "NotFound", "TemporaryError",
           "load_api_client", "without_managed_fields"]

Obj = dict[str, Any]


def without_managed_fields(obj: Obj) -> Obj:
    """A copy of an object from the API without metadata.managedFields (server-side
    bookkeeping the models do not read)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


class ApiError(Exception):
    """A Kubernetes API call failed; ``status`` is the HTTP status code."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class AlreadyExists(ApiError):
    pass


class TemporaryError(ApiError):
    """Server-side trouble (5xx, 429, connection): retry later."""


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """The cluster as kubectl finds it: KUBECONFIG (or ~/.kube/config), then in-cluster."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path or os.path.exists(os.path.expanduser("~/.kube/config")):
        api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=path)
        return api
    config.load_incluster_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


@contextmanager
def _classified(what: str) -> Iterator[None]:
    try:
        yield
    except ApiException as error:
        status = int(error.status or 0)
        message = f"{what}: {status} {error.reason}"
        body = getattr(error, "body", None)
        if body:
            try:
                message += f": {json.loads(body).get('message', body)}"
            except (ValueError, AttributeError, TypeError):
                message += f": {str(body)[:600]}"
        if status == 404:
            raise NotFound(message, status) from error
        if status == 409 and "AlreadyExists" in str(body):
            raise AlreadyExists(message, status) from error
        if status == 409:
            raise Conflict(message, status) from error
        if status in (429, 500, 502, 503, 504) or status == 0:
            raise TemporaryError(message, status) from error
        raise ApiError(message, status) from error
    except ResourceNotFoundError as error:  # discovery: the kind is not served (no CRD)
        raise NotFound(f"{what}: {error}", 404) from error
    except OSError as error:
        raise TemporaryError(f"{what}: {error}", 0) from error


class Kube:
    """Plain-dict access to any resource by (apiVersion, kind)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self._dynamic: DynamicClient | None = None
        self._discovery = threading.Lock()  # the dynamic client's cache is not thread-safe
        self.calls: list[tuple[str, str, str, str]] = []
        """(verb, apiVersion, kind, namespace) of every call, for the RBAC check."""

    def _resource(self, kind: Kind) -> Any:
        with self._discovery, _classified(f"discover {kind[1]}"):
            if self._dynamic is None:
                self._dynamic = DynamicClient(self.api_client)  # type: ignore[no-untyped-call]
            return self._dynamic.resources.get(api_version=kind[0], kind=kind[1])

    def resource(self, kind: Kind) -> Any:
        """The dynamic client's resource for ``kind`` (for watches)."""
        return self._resource(kind)

    def _record(self, verb: str, kind: Kind, namespace: str | None) -> None:
        self.calls.append((verb, kind[0], kind[1], namespace or ""))

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj:
        self._record("get", kind, namespace)
        with _classified(f"get {kind[1]} {namespace}/{name}"):
            return dict(self._resource(kind).get(name=name, namespace=namespace).to_dict())

    def find(self, kind: Kind, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self.get(kind, name, namespace)
        except NotFound:
            return None

    def list(self, kind: Kind, namespace: str | None = None,
             label_selector: str | None = None) -> list[Obj]:
        self._record("list", kind, namespace)
        with _classified(f"list {kind[1]} in {namespace}"):
            result = self._resource(kind).get(namespace=namespace,
                                              label_selector=label_selector or "")
            return [dict(item) for item in result.to_dict().get("items") or []]

    def create(self, kind: Kind, body: Obj, namespace: str | None = None) -> Obj:
        self._record("create", kind, namespace)
        name = (body.get("metadata") or {}).get("name")
        with _classified(f"create {kind[1]} {namespace}/{name}"):
            return dict(self._resource(kind).create(body=body, namespace=namespace).to_dict())

    def replace(self, kind: Kind, body: Obj, namespace: str | None = None) -> Obj:
        self._record("update", kind, namespace)
        name = body["metadata"]["name"]
        with _classified(f"update {kind[1]} {namespace}/{name}"):
            return dict(self._resource(kind).replace(body=body, namespace=namespace).to_dict())

    def patch(self, kind: Kind, name: str, patch: Obj, namespace: str | None = None, *,
              status: bool = False) -> Obj:
        """A JSON merge patch, of the object or of its status subresource."""
        self._record("patch", kind if not status else (kind[0], kind[1] + "/status"),
                     namespace)
        resource = self._resource(kind)
        if status:
            resource = resource.subresources["status"]
        with _classified(f"patch {kind[1]} {namespace}/{name}"):
            return dict(resource.patch(body=patch, name=name, namespace=namespace,
                                       content_type="application/merge-patch+json").to_dict())

    def delete(self, kind: Kind, name: str, namespace: str | None = None) -> None:
        self._record("delete", kind, namespace)
        with _classified(f"delete {kind[1]} {namespace}/{name}"):
            self._resource(kind).delete(name=name, namespace=namespace)
