"""Settings shared by the CLI (``__main__``), ``create_app`` and the process launcher."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_TOKEN = "local-dev-token"
MEMORY_DB = ":memory:"

#: The line ``metronome-local`` prints once it listens (``LocalServer`` waits for it).
LISTENING = "metronome-local listening on"


@dataclass(frozen=True)
class FaultSettings:
    """Trouble the server adds to ``/v1`` requests, to exercise clients' retries.

    ``error_rate`` and ``drop_rate`` are shares of requests (0 to 1, at most 1 together):
    an injected error (429, 500, 502 or 503) does nothing; a dropped request is carried
    out and committed, but its response never arrives complete.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    retry_after_ms: int = 1000

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        problems = []
        if not 0 <= self.latency_ms <= 60_000:
            problems.append("latency_ms: must be between 0 and 60000")
        for name in ("error_rate", "drop_rate"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name}: must be between 0 and 1")
        if self.error_rate + self.drop_rate > 1:
            problems.append("error_rate + drop_rate: must be at most 1")
        if not 0 <= self.retry_after_ms <= 3_600_000:
            problems.append("retry_after_ms: must be between 0 and 3600000")
        return problems

    def updated(self, **changes: Any) -> FaultSettings:
        """A copy with ``changes`` applied (``None`` values are ignored); validated."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Settings:
    """Everything that configures one server."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: SQLite file; ``:memory:`` keeps everything in the process (gone on exit).
    db: str = MEMORY_DB
    #: Accepted bearer tokens.
    tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    faults: FaultSettings = field(default_factory=FaultSettings)
    #: Seed of the fault injector's random choices (``None``: unseeded).
    seed: int | None = None
    access_log: bool = False
    #: How many ``/v1`` requests ``GET /_local/requests`` remembers (oldest dropped first).
    request_log_size: int = 10_000
    #: How long an idempotent response is replayed.
    idempotency_ttl_seconds: float = 24 * 3600
    #: ``limit`` of ``GET /v1/billable-metrics`` when none is given.
    default_page_size: int = 100
    #: Page size of ``POST /v1/customFields/listKeys`` (it takes no limit).
    list_keys_page_size: int = 100
    #: Refuse ingested events older than 34 days, as Metronome does; ``False`` accepts any
    #: age, to replay history (``--no-event-age-limit``).
    event_age_limit: bool = True
    #: Rows per page of ``POST /v1/usage`` (it takes no limit).
    usage_page_size: int = 100

    def __post_init__(self) -> None:
        if not self.tokens or any(not t for t in self.tokens):
            raise ValueError("tokens: at least one non-empty token is required")
        if not 0 <= self.port <= 65535:
            raise ValueError("port: must be between 0 and 65535")
