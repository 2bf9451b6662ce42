"""Prometheus provider: one PromQL query per measurement, through prometheus-api-client.

Why this exists: most users' canary metrics live in Prometheus. The query is instant
unless ``rangeQuery`` is set; transient failures (connection refused, 429, 5xx) are
retried with tenacity but never past the metric's timeout; results map to ``result``
as in Argo Rollouts: a vector is a list of floats (``result[0]``), a scalar a float, a
matrix a list of float lists. An empty answer is an Error measurement saying which query
returned no data, never a silent pass.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)
from urllib3.util.retry import Retry

from rollouts.analysis.providers.base import MeasurementError, Observation
from rollouts.api.analysis import PrometheusMetric
from rollouts.api.base import duration_seconds

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "PrometheusProvider", "parse_time", "to_result"]

DEFAULT_TIMEOUT_SECONDS = 30.0
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_STATUS = re.compile(r"HTTP Status Code (\d+)")
_RELATIVE = re.compile(
    r"""^now\(\)\s*(?:-\s*(?:duration\(\s*["']([^"']+)["']\s*\)|([0-9][0-9a-zµ.]*)))?$""")


class _Transient(Exception):
    pass


def parse_time(text: str, now: datetime) -> datetime:
    """``now()``, ``now() - 5m``, ``now() - duration("5m")``, RFC 3339 or unix seconds."""
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        ago = match.group(1) or match.group(2)
        return now - timedelta(seconds=duration_seconds(ago)) if ago else now
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MeasurementError(f"invalid time {text!r} in rangeQuery: use now(), "
                               "now() - 5m, RFC 3339 or unix seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(sample: Any) -> float:
    try:
        return float(sample[1])
    except (TypeError, ValueError, IndexError):
        raise MeasurementError(f"unexpected sample {sample!r} from Prometheus") from None


def to_result(data: Any, query: str, address: str) -> Any:
    """Prometheus' ``data.result`` as Argo maps it to ``result``."""
    if isinstance(data, list) and (not data or isinstance(data[0], dict)):
        if not data:
            raise MeasurementError(
                f"no data for query {query!r} at {address}: it matched no series (check the "
                "label values, e.g. the service and namespace args, and that Prometheus "
                "scrapes the target)")
        if "values" in data[0]:
            return [[_number(s) for s in series.get("values", [])] for series in data]
        return [_number(series.get("value")) for series in data]
    if isinstance(data, list) and len(data) == 2:
        try:
            return float(data[1])
        except (TypeError, ValueError):
            return str(data[1])
    raise MeasurementError(f"unexpected answer from Prometheus for {query!r}: {data!r}")


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate problem does not go away by retrying
    return isinstance(error, _Transient | requests.ConnectionError | requests.Timeout)


class PrometheusProvider:
    """Queries ``address`` with the metric's query, auth, headers and TLS options."""

    kind = "prometheus"

    def __init__(self, spec: PrometheusMetric) -> None:
        self.spec = spec
        self._oauth_token: tuple[str, float] | None = None

    @property
    def timeout_seconds(self) -> float:
        return float(self.spec.timeout) if self.spec.timeout else DEFAULT_TIMEOUT_SECONDS

    async def close(self) -> None:
        return None

    async def measure(self) -> Observation:
        return await asyncio.to_thread(self._measure)

    def _headers(self, budget: float) -> dict[str, str]:
        headers = {h.key: h.value for h in self.spec.headers or []}
        auth = self.spec.authentication
        if auth is not None and auth.bearer_token:
            headers["Authorization"] = f"Bearer {auth.bearer_token}"
        elif auth is not None and auth.oauth2 is not None:
            headers["Authorization"] = f"Bearer {self._oauth2(budget)}"
        return headers

    def _oauth2(self, budget: float) -> str:
        cached = self._oauth_token
        if cached and cached[1] > time.monotonic() + 10:
            return cached[0]
        oauth = self.spec.authentication.oauth2  # type: ignore[union-attr]
        assert oauth is not None
        form = {"grant_type": "client_credentials", "client_id": oauth.client_id,
                "client_secret": oauth.client_secret}
        if oauth.scopes:
            form["scope"] = " ".join(oauth.scopes)
        try:
            answer = requests.post(oauth.token_url, data=form, timeout=budget,
                                   verify=self._verify())
            answer.raise_for_status()
            body = answer.json()
            token = str(body["access_token"])
        except (requests.RequestException, ValueError, KeyError) as error:
            raise MeasurementError(f"oauth2 token request to {oauth.token_url} failed: "
                                   f"{error}") from None
        self._oauth_token = (token, time.monotonic() + float(body.get("expires_in", 60)))
        return token

    def _verify(self) -> bool | str:
        tls = self.spec.tls
        if self.spec.insecure or (tls is not None and tls.insecure_skip_verify):
            return False
        return tls.ca_file if tls is not None and tls.ca_file else True

    def _client(self, budget: float) -> PrometheusConnect:
        session = requests.Session()
        session.verify = self._verify()
        tls = self.spec.tls
        if tls is not None and tls.cert_file:
            session.cert = (tls.cert_file, tls.key_file) if tls.key_file else tls.cert_file
        basic = self.spec.authentication.basic if self.spec.authentication else None
        options: dict[str, Any] = {
            "url": self.spec.address.rstrip("/"),
            "headers": self._headers(budget),
            "auth": (basic.username, basic.password) if basic else None,
            "session": session,
            "retry": Retry(total=0, raise_on_status=False),
        }
        return PrometheusConnect(**options)

    def _query_once(self, client: PrometheusConnect, deadline: float) -> Any:
        remaining: Any = deadline - time.monotonic()  # requests takes float seconds
        if remaining <= 0:
            raise TimeoutError
        params = {"timeout": f"{max(remaining, 0.001):.3f}"}  # float seconds
        try:
            rng = self.spec.range_query
            if rng is None:
                return client.custom_query(self.spec.query, params=params, timeout=remaining)
            now = datetime.now(UTC)
            return client.custom_query_range(
                self.spec.query, parse_time(rng.start, now), parse_time(rng.end, now),
                str(duration_seconds(rng.step)), params=params, timeout=remaining)
        except PrometheusApiClientException as error:
            match = _STATUS.search(str(error))
            status = int(match.group(1)) if match else 0
            if status in _TRANSIENT_STATUS:
                raise _Transient(str(error)) from None
            raise MeasurementError(self._describe(status, str(error))) from None

    def _describe(self, status: int, text: str) -> str:
        if status in (401, 403):
            return (f"Prometheus at {self.spec.address} refused the query (HTTP {status}): "
                    "check authentication and headers")
        reason = _error_text(text)
        return f"Prometheus at {self.spec.address} rejected query {self.spec.query!r}: {reason}"

    def _no_answer(self, timeout: float, errors: list[BaseException | None]) -> str:
        last = f" (last error: {_short(errors[-1])})" if errors and errors[-1] else ""
        return f"Prometheus at {self.spec.address} did not answer within {timeout:g}s{last}"

    def _measure(self) -> Observation:
        timeout = self.timeout_seconds
        deadline = time.monotonic() + timeout
        client = self._client(timeout)
        transient: list[BaseException | None] = []
        retrying = Retrying(
            stop=stop_after_delay(max(timeout - 0.05, 0.0)),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            retry=retry_if_exception(_is_transient),
            before_sleep=lambda state: transient.append(
                state.outcome.exception() if state.outcome else None),
            reraise=False,
        )
        try:
            data = retrying(self._query_once, client, deadline)
        except RetryError as error:
            transient.append(error.last_attempt.exception())
            raise MeasurementError(self._no_answer(timeout, transient)) from None
        except TimeoutError:
            raise MeasurementError(self._no_answer(timeout, transient)) from None
        except requests.exceptions.SSLError as error:
            raise MeasurementError(f"TLS with Prometheus at {self.spec.address} failed: "
                                   f"{_short(error)} (set tls.caFile, or insecure: true)"
                                   ) from None
        except requests.RequestException as error:
            raise MeasurementError(f"Prometheus at {self.spec.address} failed: "
                                   f"{_short(error)}") from None
        finally:
            client.close()
        result = to_result(data, self.spec.query, self.spec.address)
        return Observation(result=result)


def _error_text(text: str) -> str:
    """Prometheus' own ``error`` field out of the client's ``HTTP Status Code N (b'...')``."""
    match = re.search(r"\((b(['\"]).*\2)\)\s*$", text, re.DOTALL)
    if match:
        try:
            body = json.loads(ast.literal_eval(match.group(1)))
            return str(body.get("error") or body)[:300]
        except (ValueError, SyntaxError, AttributeError):
            pass
    return text[:300]


def _short(error: BaseException | None) -> str:
    if error is None:
        return "none"
    if isinstance(error, requests.exceptions.SSLError):
        reason = re.search(r"certificate verify failed: ([^()']+)", str(error))
        return f"certificate verify failed: {reason.group(1).strip()}" if reason else str(
            error)[:200]
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection refused or reset"
    return str(error)[:200] or type(error).__name__
