"""metronome-local: a local Metronome-compatible API server for billable metrics,
customers and usage.

Run it with ``metronome-local`` (or ``python -m metronome_local``), or from Python and tests
with ``metronome_local.process.LocalServer``. It speaks Metronome's paths, bodies, status
codes and envelopes (``POST /v1/billable-metrics/create``, ``GET /v1/billable-metrics``,
``/v1/customFields/*``, ``/v1/customers``, ``POST /v1/ingest``, ``POST /v1/usage``,
``POST /v1/usage/groups``, ``POST /v1/events/search``), validates bodies with the
project's shared models, keeps metrics and customers in SQLite and events in the metering
engine's DuckDB file beside it, and can inject latency, errors and lost responses.

Choices where Metronome's behaviour is not documented (kept here, in one place):

- Renaming an archived metric is a 400 (archiving is final; only live metrics change).
- Archiving an archived metric is a 200 and keeps the first ``archived_at``.
- A metric always carries ``custom_fields`` (``{}`` when it has none); other unset fields
  are left out of the answer. Lists are in creation order; the default page size is 100.
- Custom field values are stored only for ``billable_metric``; setValues/deleteValues
  for other entity kinds are a 400. ``deleteValues`` of a key without a value (or not on
  the allow list) is a no-op. ``removeKey`` also deletes that key's values.
- Unknown keys in setValues or a create body's ``custom_fields``: 400 naming each key.
  ``enforce_uniqueness``: a value already held by another metric for that key is a 400.
- ``listKeys`` pages hold 100 keys; no entities (or ``[]``) means every kind.
- ``Idempotency-Key`` is honoured on every ``/v1`` POST, scoped by bearer token; 5xx
  answers are not stored. Empty or over-255-character keys are a 400.
- 401 for a missing or unknown token (Metronome may also answer 403).
- Faults (``--latency-ms``, ``--error-rate``, ``--drop-rate``) apply to ``/v1`` only and
  come before auth; injected errors are 429 (``Retry-After``, ``retry-after-ms``) or
  500/502/503, equally likely.

Customers and metering (the rules themselves: ``shared/reference/metering-semantics.md``):

- A customer's ``external_id`` is also listed as its first ingest alias; without one,
  ``external_id`` is the first alias, else the Metronome id. ``setIngestAliases`` replaces
  the aliases; the external id keeps naming the customer in events.
- An alias or external id names one live customer (400 otherwise, naming the holder);
  archiving frees them. An archived customer cannot change its aliases (400). Archiving
  twice is a 200 that keeps ``archived_at``. Aliases are 1 to 128 characters, at most 100
  per customer. Billing-provider fields of the create body are refused (400).
- Unknown customer or metric ids in usage queries: 404 naming the field
  (``customer_ids[1]``, ``billable_metrics[0].id``, ``customer_id``).
- ``/v1/usage`` pages hold 100 rows (``Settings.usage_page_size``); ``/v1/usage/groups``
  takes ``limit`` 1 to 100 (default 100). A query covers at most 10,000 windows. Without a
  period, ``/v1/usage/groups`` covers 34 days before today's UTC midnight to two days
  after it. ``current_period`` is refused (no plans or contracts here).
- ``/v1/events/search`` takes 1 to 100 ids (``transactionIds``, as the SDK sends them;
  ``transaction_ids`` is accepted too) and answers every receipt of them, duplicates
  included (``is_duplicate``); ids never ingested are left out. ``id`` is derived from the
  transaction id and ingestion time.
- Events older than 34 days are refused unless the server runs with
  ``--no-event-age-limit`` (replaying history).
"""

from __future__ import annotations

from .process import LocalServer
from .settings import DEFAULT_TOKEN, FaultSettings, Settings

__all__ = ["DEFAULT_TOKEN", "FaultSettings", "LocalServer", "Settings"]
