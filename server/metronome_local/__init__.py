"""metronome-local: a local Metronome-compatible API server for billable metrics.

Run it with ``metronome-local`` (or ``python -m metronome_local``), or from Python and tests
with ``metronome_local.process.LocalServer``. It speaks Metronome's paths, bodies, status
codes and envelopes (``POST /v1/billable-metrics/create``, ``GET /v1/billable-metrics``,
``/v1/customFields/*``, ...), validates bodies with the project's shared models, keeps
its state in SQLite, and can inject latency, errors and lost responses.

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
"""

from __future__ import annotations

from .process import LocalServer
from .settings import DEFAULT_TOKEN, FaultSettings, Settings

__all__ = ["DEFAULT_TOKEN", "FaultSettings", "LocalServer", "Settings"]
