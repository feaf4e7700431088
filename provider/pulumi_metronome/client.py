"""A small, careful client for the parts of Metronome's API that pricing-as-code needs.

Why not the official SDK: the provider must make every write safe to retry. Every POST
carries an ``Idempotency-Key`` chosen once per call and kept across its retries, so a
response lost on the way back is replayed by Metronome instead of creating a duplicate.

Retries cover only what can succeed later: connection failures, 408, 429 and 5xx (not 501).
A 400, 401, 403, 404 or 409 is Metronome's final word and is raised at once; a malformed
base URL is refused before any attempt. One logical call never spends more than
``total_timeout`` seconds (attempts and pauses together); a pause Metronome asks for
(``retry-after-ms``, ``Retry-After``) is honoured up to ``max_retry_after`` seconds.

What Metronome sends back is parsed with the tolerant models (``Returned``): a field or an
aggregation type this version does not know never breaks a listing.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    # Imported on the first call instead (``_session``): the native plugin answers check
    # and diff, so a whole ``pulumi preview``, without ever loading ``requests``.
    import requests

from .errors import (
    ConfigurationError,
    MetronomeAPIError,
    MissingCredentialsError,
    TransportError,
    bounded,
)
from .models import (
    AlertSpec,
    BillableMetricSpec,
    CustomerAlert,
    CustomFieldKeySpec,
    Notification,
    NotificationEdit,
    NotificationSpec,
    PricingUnit,
    PricingUnitSpec,
    Product,
    ProductOrderBody,
    ProductSpec,
    ProductUpdate,
    RateCard,
    RateCardSpec,
    RateCardUpdate,
    RateEntry,
    ScheduledRate,
    rfc3339,
)
from .models import BillableMetric as LiveBillableMetric
from .models import CustomFieldKey as LiveCustomFieldKey
from .models.package import ContractOnPackage, Package, PackageSpec

DEFAULT_BASE_URL = "https://api.metronome.com"
TOKEN_ENV = "METRONOME_BEARER_TOKEN"
BASE_URL_ENV = "METRONOME_BASE_URL"
TOKEN_CONFIG = "metronome:bearerToken"
BASE_URL_CONFIG = "metronome:baseUrl"
#: Statuses that a later attempt can turn into a success.
_PRODUCTS = "/v1/contract-pricing/products"
_CARDS = "/v1/contract-pricing/rate-cards"
#: Where a full rate schedule is read from: before any rate a card can hold.
SCHEDULE_START = datetime(1970, 1, 1, tzinfo=UTC)
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
JSON = dict[str, Any]


def is_retryable(status: int) -> bool:
    """408, 429 and 5xx but 501 (not implemented: it will not be implemented in a second)."""
    return status in RETRYABLE_STATUSES or (status >= 500 and status != 501)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one logical call tries. The defaults give up on a host that refuses
    connections after 5 attempts within about 8 s (pauses of 0.5, 1, 2 and 4 s, each cut to
    50-100% at random), and on a struggling one after ``total_timeout``."""

    #: Retries after the first attempt.
    max_retries: int = 4
    #: First backoff pause (doubled each retry, up to ``max_backoff``, with jitter).
    backoff: float = 0.5
    max_backoff: float = 8.0
    #: Seconds one logical call may spend in total, attempts and pauses included.
    total_timeout: float = 45.0
    #: Longest pause Metronome may ask for; a longer one is reported, not waited on.
    max_retry_after: float = 30.0
    #: Seconds to establish a connection, and to wait for an answer, per attempt.
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


def check_base_url(value: str, setting: str) -> str:
    """``value`` without a trailing slash if it is an ``http(s)://host`` URL; else a
    ``ConfigurationError`` naming ``setting`` (never worth a retry)."""
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as error:
        raise ConfigurationError(
            f"{setting} {value!r} is not a valid URL ({error}); expected e.g. {DEFAULT_BASE_URL}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigurationError(
            f"{setting} {value!r} is not a valid URL: it must start with https:// (or http://) "
            f"and name a host, e.g. {DEFAULT_BASE_URL}"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"{setting} {value!r} is not a valid base URL: it must not have a query or fragment"
        )
    return value.rstrip("/")


def resolve_base_url(configured: str | None) -> str:
    """The base URL from stack config, else the environment, else Metronome's; checked."""
    if configured:
        return check_base_url(configured, f"the stack config {BASE_URL_CONFIG}")
    from_env = os.environ.get(BASE_URL_ENV)
    if from_env:
        return check_base_url(from_env, f"the environment variable {BASE_URL_ENV}")
    return DEFAULT_BASE_URL


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
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        token = bearer_token or os.environ.get(TOKEN_ENV)
        if not token:
            raise MissingCredentialsError(
                "no Metronome bearer token: set the secret stack config "
                f"`pulumi config set --secret {TOKEN_CONFIG} <token>` "
                f"or the environment variable {TOKEN_ENV}"
            )
        self.retry = retry or RetryPolicy()
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

    def create_billable_metric(self, spec: BillableMetricSpec) -> str:
        """Create a metric and return its id; safe to retry (one metric at most)."""
        body = self._call("POST", "/v1/billable-metrics/create", json=spec.create_body())
        return str(body["data"]["id"])

    def get_billable_metric(self, metric_id: str) -> LiveBillableMetric:
        body = self._call("GET", f"/v1/billable-metrics/{_segment(metric_id)}")
        return LiveBillableMetric.model_validate(body["data"])

    def list_billable_metrics(
        self, *, include_archived: bool = False, page_size: int = 100
    ) -> Iterator[LiveBillableMetric]:
        """Every metric, following ``next_page`` cursors across pages."""
        params: dict[str, Any] = {"limit": page_size}
        if include_archived:
            params["include_archived"] = "true"
        for item in self._pages("GET", "/v1/billable-metrics", params=params):
            yield LiveBillableMetric.model_validate(item)

    def rename_billable_metric(self, metric_id: str, name: str) -> None:
        self._call("PUT", f"/v1/billable-metrics/{_segment(metric_id)}", json={"name": name})

    def archive_billable_metric(self, metric_id: str) -> None:
        self._call("POST", "/v1/billable-metrics/archive", json={"id": metric_id})

    # ------------------------------------------------------------------------- products

    def create_product(self, spec: ProductSpec) -> str:
        """Create a product and return its id; safe to retry (one product at most)."""
        body = self._call("POST", f"{_PRODUCTS}/create", json=spec.create_body())
        return str(body["data"]["id"])

    def get_product(self, product_id: str) -> Product:
        body = self._call("POST", f"{_PRODUCTS}/get", json={"id": product_id})
        return Product.model_validate(body["data"])

    def list_products(self, *, archive_filter: str = "NOT_ARCHIVED") -> Iterator[Product]:
        body = {"archive_filter": archive_filter}
        for item in self._pages("POST", f"{_PRODUCTS}/list", params={"limit": 100}, json=body):
            yield Product.model_validate(item)

    def update_product(self, update: ProductUpdate) -> None:
        """Change a product from ``update.starting_at`` on (omitted fields keep their value)."""
        body = update.model_dump(mode="json", exclude_none=True)
        body["starting_at"] = rfc3339(update.starting_at)
        self._call("POST", f"{_PRODUCTS}/update", json=body)

    def archive_product(self, product_id: str) -> None:
        self._call("POST", f"{_PRODUCTS}/archive", json={"product_id": product_id})

    # ----------------------------------------------------------------------- rate cards

    def create_rate_card(self, spec: RateCardSpec) -> str:
        body = self._call("POST", f"{_CARDS}/create", json=spec.create_body())
        return str(body["data"]["id"])

    def get_rate_card(self, card_id: str) -> RateCard:
        body = self._call("POST", f"{_CARDS}/get", json={"id": card_id})
        return RateCard.model_validate(body["data"])

    def list_rate_cards(self) -> Iterator[RateCard]:
        for item in self._pages("POST", f"{_CARDS}/list", params={"limit": 100}, json={}):
            yield RateCard.model_validate(item)

    def update_rate_card(self, update: RateCardUpdate) -> None:
        self._call(
            "POST", f"{_CARDS}/update", json=update.model_dump(mode="json", exclude_none=True)
        )

    def archive_rate_card(self, card_id: str) -> None:
        self._call("POST", f"{_CARDS}/archive", json={"id": card_id})

    def set_product_order(self, card_id: str, product_ids: list[str]) -> None:
        """Set the order of the card's products on invoices."""
        body = ProductOrderBody(rate_card_id=card_id, product_order=product_ids)
        self._call("POST", f"{_CARDS}/setRateCardProductsOrder", json=body.model_dump(mode="json"))

    def add_rates(self, card_id: str, rates: list[RateEntry]) -> None:
        """Add rates to a card, all or none (a rate with the key of a stored one replaces it)."""
        if rates:
            body = {"rate_card_id": card_id, "rates": [r.body() for r in rates]}
            self._call("POST", f"{_CARDS}/addRates", json=body)

    def rate_schedule(
        self, card_id: str, starting_at: datetime = SCHEDULE_START
    ) -> Iterator[ScheduledRate]:
        """Every segment of the card's schedule from ``starting_at`` on."""
        body = {"rate_card_id": card_id, "starting_at": rfc3339(starting_at)}
        for item in self._pages(
            "POST", f"{_CARDS}/getRateSchedule", params={"limit": 100}, json=body
        ):
            yield ScheduledRate.model_validate(item)

    # -------------------------------------------------------------------- pricing units

    def create_pricing_unit(self, spec: PricingUnitSpec) -> str:
        """Create a custom pricing unit and return its id; safe to retry (one at most)."""
        body = self._call("POST", "/v1/credit-types/create", json=spec.create_body())
        return str(body["data"]["id"])

    def list_pricing_units(self) -> Iterator[PricingUnit]:
        """Every live unit, fiat currencies included (``is_currency``)."""
        for item in self._pages("GET", "/v1/credit-types/list", params={"limit": 100}):
            yield PricingUnit.model_validate(item)

    def archive_pricing_unit(self, unit_id: str) -> None:
        self._call("POST", "/v1/credit-types/archive", json={"id": unit_id})

    # ------------------------------------------------------------------------- alerts

    def create_alert(self, spec: AlertSpec) -> str:
        """Create an alert and return its id; a ``uniqueness_key`` already held is a 409."""
        body = self._call("POST", "/v1/alerts/create", json=spec.create_body())
        return str(body["data"]["id"])

    def get_customer_alert(self, customer_id: str, alert_id: str) -> CustomerAlert:
        body = self._call(
            "POST",
            "/v1/customer-alerts/get",
            json={"customer_id": customer_id, "alert_id": alert_id},
        )
        return CustomerAlert.model_validate(body["data"])

    def list_customer_ids(self) -> Iterator[str]:
        """Every customer's id (``GET /v1/customers``), for finding whose alert an id is."""
        for item in self._pages("GET", "/v1/customers", params={"limit": 100}):
            yield str(item["id"])

    def archive_alert(self, alert_id: str) -> None:
        """Archive an alert and release its uniqueness key (the alert is gone for good)."""
        self._call(
            "POST", "/v1/alerts/archive", json={"id": alert_id, "release_uniqueness_key": True}
        )

    # ------------------------------------------------------------------ notifications

    def create_notification(self, spec: NotificationSpec) -> Notification:
        """Create an offset notification; a ``uniqueness_key`` already held is a 409."""
        body = self._call("POST", "/v2/notifications/create", json=spec.create_body())
        return Notification.model_validate(body["data"])

    def get_notification(self, notification_id: str) -> Notification:
        body = self._call("POST", "/v2/notifications/get", json={"id": notification_id})
        return Notification.model_validate(body["data"])

    def list_notifications(self) -> Iterator[Notification]:
        """Every live offset notification (the cursor travels in the body)."""
        body: dict[str, Any] = {"archive_filter": "NOT_ARCHIVED", "limit": 100}
        while True:
            page = self._call("POST", "/v2/notifications/offset/list", json=body)
            for item in page.get("data") or []:
                yield Notification.model_validate(item)
            if not page.get("cursor"):
                return
            body["cursor"] = page["cursor"]

    def edit_notification(self, edit: NotificationEdit) -> None:
        self._call("POST", "/v2/notifications/edit", json=edit.model_dump(mode="json"))

    def archive_notification(self, notification_id: str) -> None:
        self._call("POST", "/v2/notifications/archive", json={"id": notification_id})

    # ------------------------------------------------------------------------- packages

    def create_package(self, spec: PackageSpec) -> str:
        body = self._call("POST", "/v1/packages/create", json=spec.create_body())
        return str(body["data"]["id"])

    def get_package(self, package_id: str) -> Package:
        body = self._call("POST", "/v1/packages/get", json={"package_id": package_id})
        return Package.model_validate(body["data"])

    def list_packages(self, *, archive_filter: str = "NOT_ARCHIVED") -> Iterator[Package]:
        body = {"archive_filter": archive_filter}
        for item in self._pages("POST", "/v1/packages/list", params={"limit": 100}, json=body):
            yield Package.model_validate(item)

    def archive_package(self, package_id: str) -> None:
        self._call("POST", "/v1/packages/archive", json={"package_id": package_id})

    def contracts_on_package(self, package_id: str) -> Iterator[ContractOnPackage]:
        """The contracts created on a package (archived ones left out)."""
        body = {"package_id": package_id}
        for item in self._pages(
            "POST", "/v1/packages/listContractsOnPackage", params={"limit": 100}, json=body
        ):
            yield ContractOnPackage.model_validate(item)

    # -------------------------------------------------------------------- custom fields

    def add_custom_field_key(self, spec: CustomFieldKeySpec) -> None:
        self._call("POST", "/v1/customFields/addKey", json=spec.model_dump(mode="json"))

    def list_custom_field_keys(
        self, entities: list[str] | None = None
    ) -> Iterator[LiveCustomFieldKey]:
        body = {"entities": entities} if entities else {}
        for item in self._pages("POST", "/v1/customFields/listKeys", json=body):
            yield LiveCustomFieldKey.model_validate(item)

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

    def _pages(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Iterator[Any]:
        query = dict(params or {})
        while True:
            body = self._call(method, path, params=query, json=json)
            yield from body.get("data") or []
            cursor = body.get("next_page")
            if not cursor:
                return
            query["next_page"] = cursor

    def _session(self) -> requests.Session:
        import requests

        session: requests.Session | None = getattr(self._local, "session", None)
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
    ) -> JSON:
        """One logical call: retried on faults, with one idempotency key for all attempts."""
        import requests

        policy = self.retry
        headers = dict(self._headers)
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        url = self.base_url + path
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            # What is left of the budget, but never a timeout too short to connect at all.
            left = max(0.5, policy.total_timeout - (time.monotonic() - started))
            timeout = (min(policy.connect_timeout, left), min(policy.read_timeout, left))
            try:
                response = self._session().request(
                    method, url, json=json, params=params, headers=headers, timeout=timeout
                )
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as error:
                raise ConfigurationError(
                    f"the base URL {self.base_url!r} is unusable: {error}"
                ) from None
            except requests.RequestException as error:
                # Connection refused, reset, timed out, or the body was cut off: the write
                # may or may not have happened; the idempotency key makes the retry safe.
                pause, stop = self._pause(attempt, started, None)
                if stop:
                    raise TransportError(
                        f"{_reason(error, timeout[1])}; {stop}",
                        method=method,
                        url=url,
                        attempts=attempt,
                        seconds=time.monotonic() - started,
                    ) from None
                time.sleep(pause)
                continue
            if response.status_code >= 400:
                stop = ""
                if is_retryable(response.status_code):
                    pause, stop = self._pause(attempt, started, _retry_after(response))
                    if not stop:
                        time.sleep(pause)
                        continue
                raise _error_from(response, method, path, attempt, stop)
            if not response.content:
                return {}
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise MetronomeAPIError(
                    f"the answer was not a JSON object: {response.text!r}",
                    status=response.status_code,
                    method=method,
                    path=path,
                    attempts=attempt,
                )
            return body

    def _pause(self, attempt: int, started: float, asked: float | None) -> tuple[float, str]:
        """Seconds to wait before the next attempt, and why the call gives up instead
        (non-empty): out of retries, out of time, or asked to wait longer than we accept."""
        policy = self.retry
        if attempt > policy.max_retries:
            retries = "1 retry" if policy.max_retries == 1 else f"{policy.max_retries} retries"
            return 0.0, f"gave up after {retries}"
        if asked is not None:
            if asked > policy.max_retry_after:
                return 0.0, (
                    f"Metronome asked to retry after {asked:g} s, longer than the "
                    f"{policy.max_retry_after:g} s this client waits"
                )
            pause = asked
        else:
            backoff = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
            pause = backoff * random.uniform(0.5, 1.0)
        # The next attempt needs time too: give up rather than start one that cannot finish.
        if time.monotonic() - started + pause >= policy.total_timeout:
            return 0.0, f"gave up: a retry would pass the {policy.total_timeout:g} s budget"
        return pause, ""


def _segment(metric_id: str) -> str:
    """An id as one URL path segment; a bad id is a 404 from Metronome, not another path."""
    return quote(metric_id, safe="")


def _reason(error: requests.RequestException, read_timeout: float) -> str:
    """What went wrong, in words (not urllib3's ``HTTPConnectionPool(...)`` text)."""
    import requests

    root: BaseException = error
    while (inner := root.__cause__ or root.__context__) is not None:
        root = inner
    last = root.args[-1] if root.args else None
    detail = last if isinstance(last, str) else str(root) or type(root).__name__
    if ": " in detail and "Connection" in detail:
        detail = detail.rsplit(": ", 1)[-1]
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "timed out while connecting"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return f"no answer within {read_timeout:.0f} s"
    if isinstance(error, requests.exceptions.ConnectionError) and not isinstance(
        error, requests.exceptions.ChunkedEncodingError
    ):
        if "RemoteDisconnected" in repr(root) or "Connection aborted" in str(error):
            return f"the connection dropped before an answer came ({bounded(detail, 200)})"
        return f"could not connect ({bounded(detail, 200)})"
    return f"the connection dropped mid-answer ({bounded(detail, 200)})"


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


def _error_from(
    response: requests.Response, method: str, path: str, attempts: int, note: str
) -> MetronomeAPIError:
    message, code = response.text.strip() or response.reason or "no message", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
        code = body["code"] if isinstance(body.get("code"), str) else None
    return MetronomeAPIError(
        message,
        status=response.status_code,
        code=code,
        method=method,
        path=path,
        attempts=attempts,
        note=note,
    )
