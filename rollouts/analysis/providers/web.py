"""Web provider: one HTTP request per measurement, a value picked with a JSONPath.

Why this exists: Argo Rollouts' ``web`` metric, for health endpoints and in-house
metric services: GET, POST or PUT with headers and a body, ``timeoutSeconds``, and
``jsonPath`` (``{$.data.ok}``) to select the value conditions see as ``result``.
Without a jsonPath the whole JSON body is the result (or its text if it is not JSON).
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import aiohttp

from rollouts.analysis.jsonpath import JSONPathError, select
from rollouts.analysis.providers.base import MeasurementError, Observation
from rollouts.api.analysis import WebMetric

__all__ = ["WebProvider"]


class WebProvider:
    kind = "web"

    def __init__(self, spec: WebMetric) -> None:
        self.spec = spec

    @property
    def timeout_seconds(self) -> float:
        return float(self.spec.timeout_seconds)

    async def close(self) -> None:
        return None

    def _body(self) -> tuple[bytes | None, dict[str, str]]:
        headers = {h.key: h.value for h in self.spec.headers or []}
        if self.spec.json_body is not None:
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.spec.json_body).encode(), headers
        if self.spec.body is not None:
            return self.spec.body.encode(), headers
        return None, headers

    async def measure(self) -> Observation:
        spec = self.spec
        data, headers = self._body()
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        ssl_option: ssl.SSLContext | bool = not spec.insecure
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
                spec.method, spec.url, data=data, headers=headers, ssl=ssl_option
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
        except TimeoutError:
            raise MeasurementError(
                f"{spec.method} {spec.url} did not answer within {self.timeout_seconds:g}s"
            ) from None
        except aiohttp.ClientError as error:
            raise MeasurementError(f"{spec.method} {spec.url} failed: {error}") from None
        if not 200 <= status < 300:
            raise MeasurementError(f"{spec.method} {spec.url} answered HTTP {status}: "
                                   f"{text[:200]}")
        try:
            document: Any = json.loads(text)
        except ValueError:
            if spec.json_path:
                raise MeasurementError(f"{spec.url} did not return JSON, so jsonPath "
                                       f"{spec.json_path!r} cannot apply: {text[:200]}") from None
            return Observation(result=text)
        if not spec.json_path:
            return Observation(result=document)
        try:
            return Observation(result=select(document, spec.json_path))
        except JSONPathError as error:
            raise MeasurementError(f"{spec.url}: {error}") from None
