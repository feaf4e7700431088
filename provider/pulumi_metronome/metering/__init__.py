"""The metering engine: usage events in, usage out, by the rules of
``shared/reference/metering-semantics.md``. The local server and the in-process evaluator
use the same engine and the same queries; ``evaluate`` is the in-process entry point.
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
