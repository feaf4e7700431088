"""The metering engine: usage events in, usage out, by the rules of
``shared/reference/metering-semantics.md``. The local server and the in-process evaluator
use the same engine and the same queries; ``evaluate`` is the in-process entry point.

Decisions where Metronome documents nothing (the one place they are listed; the semantics
file's own decisions are implemented as written):

Events and storage
- A batch is acknowledged once it is on disk (the ingest log, ``log``); a crash after that
  loses nothing, a batch cut off mid-write was never acknowledged and is dropped.
- Duplicates (a ``transaction_id`` already stored) are kept, flagged, for
  ``/v1/events/search``, which lists every receipt in ingestion order; they never count and
  match no metric.
- A property's text: JSON ``null`` is absent; objects and arrays read as compact JSON with
  their keys in the order sent. The rule is written once, in SQL (``load.TEXT_MACROS``),
  and runs when events move into DuckDB (ingest log, bulk loads).
- An event id (``customer_id``) that is the alias of several customers counts for each (the
  server keeps aliases unique, so this does not arise there).

Numbers
- A property is a number when its text is plain decimal notation with an optional exponent
  (``12``, ``-0.5``, ``.5``, ``1e3``); ``NaN``, ``1_000``, `` 5`` are not numbers.
- Values are exact decimals of 38 digits, 12 after the point (finer digits round half-even).
- LATEST is the value of the latest event *that has a number* (events without one add
  nothing, as for SUM and MAX); ties on timestamp go to the event ingested last.
- UNIQUE counts distinct texts: ``5`` and ``"5"`` are one value, ``"5.0"`` another.

Windows and groups
- ``group_by`` without ``values`` reports the values seen for that customer over the whole
  queried range (the same keys in every window), sorted, the first 200; events without the
  property count in ``value`` only.
- ``/v1/usage/groups`` without ``group_key`` uses the metric's first group key (a metric with
  none: one group ``{}``); a compound key may be given in any order; rows come by window,
  then by group values in the order of the requested key; ``group_filters`` keys must be part
  of the key.

SQL metrics
- Refused at creation (and at ``pulumi preview``): more than one statement, anything but a
  single ``SELECT ... FROM events`` (joins, subqueries, HAVING, ORDER BY, LIMIT, DISTINCT),
  functions and types beyond the documented ones, a value column that does not aggregate,
  a group column not in GROUP BY, and any query DuckDB cannot bind over the events (``SUM``
  over a property not cast, for one).
- ``CAST(... AS DECIMAL)`` without a precision is ``DECIMAL(38, 12)``; a value that does
  not convert reads as null (so one malformed event cannot fail the metric, as SUM skips
  non-numbers); EARLIEST/LATEST break timestamp ties by ingestion order.
- An empty window has the value the query gives over no events (COUNT 0, SUM null).
- With group columns, ``/v1/usage``'s ``value`` is the query without them (its aggregate over
  every event of the window); a null group value is a group of its own in
  ``/v1/usage/groups`` and is left out of ``group_by``.
- An event matches a SQL metric (for search) when it passes the query's WHERE clause.

In-process evaluation (``evaluate``)
- No age or lead limit on timestamps; customers default to every ``customer_id`` the events
  carry, each its own customer; metric ids are the mapping's keys, else the metric names.
"""

from .engine import MeteringEngine
from .evaluate import evaluate
from .types import (
    CustomerRef,
    GroupBy,
    GroupRow,
    GroupsQuery,
    IngestResult,
    MeteredMetric,
    StoredEvent,
    UsageQuery,
    UsageRow,
    WindowSize,
)

__all__ = [
    "CustomerRef",
    "GroupBy",
    "GroupRow",
    "GroupsQuery",
    "IngestResult",
    "MeteredMetric",
    "MeteringEngine",
    "StoredEvent",
    "UsageQuery",
    "UsageRow",
    "WindowSize",
    "evaluate",
]
