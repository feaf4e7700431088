"""A small, careful client for the parts of Metronome's API that pricing-as-code needs.

Why not the official SDK: the provider must make every write safe to retry. Every POST
carries an ``Idempotency-Key`` chosen once per call and kept across its retries, so a
response lost on the way back is replayed by Metronome instead of creating a duplicate.
Retries cover connection errors, 408, 429 and 5xx, and honour ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from .models import BillableMetric, BillableMetricSpec, CustomFieldKeySpec, parse_model

DEFAULT_BASE_URL = "https://api.metronome.com"
TOKEN_ENV = "METRONOME_BEARER_TOKEN"
BASE_URL_ENV = "METRONOME_BASE_URL"
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: A server asking for a longer pause than this is not waited on; the error is reported.
MAX_RETRY_AFTER_SECONDS = 60.0


class MetronomeError(Exception):
    """Any failed call: ``status`` is the HTTP status (None when no response came back).

    ``message`` is Metronome's own text, shown to the user as is.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        where = f" ({method} {path})" if method else ""
        if status:
            message = f"Metronome answered {status}{where}: {message}"
        elif method:
            message = f"Metronome could not be reached{where}: {message}"
        super().__init__(message)

    @property
    def not_found(self) -> bool:
        return self.status == 404


class MissingCredentialsError(MetronomeError):
    """No bearer token was given, in config or in the environment."""


class MetronomeClient:
    """Talks to Metronome (or the local server) with retries that never duplicate a write.

    Credentials come from the arguments, else from ``METRONOME_BEARER_TOKEN`` and
    ``METRONOME_BASE_URL``, like Metronome's official SDKs. The token is kept only in the
    request headers and never appears in ``repr``, errors or logs.
    """

    def __init__(
        self,
        bearer_token: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 6,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
    ) -> None:
        token = bearer_token or os.environ.get(TOKEN_ENV)
        if not token:
            raise MissingCredentialsError(
                "no Metronome bearer token: set the secret stack config "
                "`pulumi config set --secret metronome:bearerToken <token>` "
                f"or the environment variable {TOKEN_ENV}"
            )
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": "pulumi-metronome",
        }
        # requests.Session is not documented as thread-safe; the provider serves requests
        # from a thread pool, so each thread gets its own session (and connection pool).
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"MetronomeClient(base_url={self.base_url!r})"

    # ----------------------------------------------------------------- billable metrics

    def create_billable_metric(
        self, spec: BillableMetricSpec, *, idempotency_key: str | None = None
    ) -> str:
        """Create a metric and return its id; safe to retry (one metric at most)."""
        body = self._call(
            "POST",
            "/v1/billable-metrics/create",
            json=spec.create_body(),
            idempotency_key=idempotency_key,
        )
        return body["data"]["id"]

    def get_billable_metric(self, metric_id: str) -> BillableMetric:
        body = self._call("GET", f"/v1/billable-metrics/{_segment(metric_id)}")
        return parse_model(BillableMetric, body["data"])

    def list_billable_metrics(
        self, *, include_archived: bool = False, page_size: int = 100
    ) -> Iterator[BillableMetric]:
        """Every metric, following ``next_page`` cursors across pages."""
        params: dict[str, Any] = {"limit": page_size}
        if include_archived:
            params["include_archived"] = "true"
        for item in self._pages("GET", "/v1/billable-metrics", params=params):
            yield parse_model(BillableMetric, item)

    def rename_billable_metric(self, metric_id: str, name: str) -> None:
        self._call("PUT", f"/v1/billable-metrics/{_segment(metric_id)}", json={"name": name})

    def archive_billable_metric(self, metric_id: str) -> None:
        self._call("POST", "/v1/billable-metrics/archive", json={"id": metric_id})

    # -------------------------------------------------------------------- custom fields

    def add_custom_field_key(self, spec: CustomFieldKeySpec) -> None:
        self._call("POST", "/v1/customFields/addKey", json=spec.model_dump(mode="json"))

    def list_custom_field_keys(
        self, entities: list[str] | None = None
    ) -> Iterator[CustomFieldKeySpec]:
        body = {"entities": entities} if entities else {}
        for item in self._pages("POST", "/v1/customFields/listKeys", json=body):
            yield parse_model(CustomFieldKeySpec, item)

    def remove_custom_field_key(self, entity: str, key: str) -> None:
        self._call("POST", "/v1/customFields/removeKey", json={"entity": entity, "key": key})

    def set_custom_field_values(
        self, entity: str, entity_id: str, values: Mapping[str, str]
    ) -> None:
        self._call(
            "POST",
            "/v1/customFields/setValues",
            json={"entity": entity, "entity_id": entity_id, "custom_fields": dict(values)},
        )

    def delete_custom_field_values(self, entity: str, entity_id: str, keys: list[str]) -> None:
        self._call(
            "POST",
            "/v1/customFields/deleteValues",
            json={"entity": entity, "entity_id": entity_id, "keys": list(keys)},
        )

    # ---------------------------------------------------------------------- transport

    def _pages(self, method: str, path: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        params = dict(kwargs.pop("params", None) or {})
        while True:
            body = self._call(method, path, params=params, **kwargs)
            yield from body.get("data") or []
            cursor = body.get("next_page")
            if not cursor:
                return
            params["next_page"] = cursor

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """One logical call: retried on faults, with one idempotency key for all attempts."""
        headers = dict(self._headers)
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                response = self._session().request(
                    method, url, json=json, params=params, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as error:
                # Connection refused, reset, timed out, or the body was cut off: the write
                # may or may not have happened; the idempotency key makes the retry safe.
                if attempt >= self.max_retries:
                    raise MetronomeError(
                        f"{type(error).__name__} after {attempt + 1} attempts: {error}",
                        method=method,
                        path=path,
                    ) from None
                self._sleep(attempt, None)
                attempt += 1
                continue
            if response.status_code in RETRYABLE_STATUSES and attempt < self.max_retries:
                delay = _retry_after(response)
                if delay is None or delay <= MAX_RETRY_AFTER_SECONDS:
                    self._sleep(attempt, delay)
                    attempt += 1
                    continue
            if response.status_code >= 400:
                raise _error_from(response, method, path)
            if not response.content:
                return {}
            try:
                return response.json()
            except ValueError:
                raise MetronomeError(
                    f"the response was not JSON: {response.text[:200]!r}",
                    status=response.status_code,
                    method=method,
                    path=path,
                ) from None

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            delay = min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
        time.sleep(delay)


def _segment(metric_id: str) -> str:
    """An id as one URL path segment; a bad id is a 404 from Metronome, not another path."""
    return requests.utils.quote(metric_id, safe="")


def _retry_after(response: requests.Response) -> float | None:
    """The pause a 429/503 asks for: ``retry-after-ms``, else ``Retry-After`` (secs or date)."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _error_from(response: requests.Response, method: str, path: str) -> MetronomeError:
    message, code = response.text.strip() or response.reason or "no message", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message, code = body["message"], body.get("code")
    return MetronomeError(message, status=response.status_code, code=code, method=method, path=path)
