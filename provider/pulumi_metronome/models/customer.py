"""A Metronome customer, as far as metering needs one: a name and the ids events may carry.

An event's ``customer_id`` names a customer by its Metronome id, by one of its ingest
aliases, or by its (deprecated) ``external_id``. The rules on those names live here; the
rule that needs every other customer (an alias belongs to one live customer) is checked by
the local server against its store.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StrictStr, field_validator

from .common import NonEmptyStr, Returned, Wire
from .custom_field import CustomFields

#: Metronome truncates longer names to this many characters (official SDK docs).
CUSTOMER_NAME_MAX_LENGTH = 160
#: An alias is what an event's ``customer_id`` carries, so it obeys the same limit as
#: ``transaction_id`` (Metronome documents none; *decision*).
INGEST_ALIAS_MAX_LENGTH = 128
#: Aliases per customer (Metronome documents none; *decision*, to keep requests bounded).
MAX_INGEST_ALIASES = 100

IngestAlias = Annotated[NonEmptyStr, Field(max_length=INGEST_ALIAS_MAX_LENGTH)]
IngestAliases = Annotated[list[IngestAlias], Field(max_length=MAX_INGEST_ALIASES)]


def _distinct(aliases: list[str] | None) -> list[str] | None:
    """An alias listed twice is a mistake worth naming, not something to fold silently."""
    twice = sorted(a for a, n in Counter(aliases or ()).items() if n > 1)
    if twice:
        raise ValueError(f"lists {', '.join(repr(a) for a in twice)} more than once")
    return aliases


class CustomerSpec(Wire):
    """``POST /v1/customers``: the fields metering needs (billing configurations are not
    supported by the local server, and so are refused as unknown fields)."""

    name: NonEmptyStr
    ingest_aliases: IngestAliases | None = None
    external_id: IngestAlias | None = None
    custom_fields: CustomFields | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value[:CUSTOMER_NAME_MAX_LENGTH]

    _aliases_distinct = field_validator("ingest_aliases")(_distinct)

    def all_aliases(self) -> list[str]:
        """The aliases the customer gets: ``external_id`` first (Metronome lists it as an
        alias too), then ``ingest_aliases``, each once."""
        out = [self.external_id] if self.external_id else []
        out += [a for a in self.ingest_aliases or [] if a not in out]
        return out


class SetIngestAliasesBody(Wire):
    """``POST /v1/customers/{customer_id}/setIngestAliases``: replaces every alias."""

    ingest_aliases: IngestAliases

    _aliases_distinct = field_validator("ingest_aliases")(_distinct)


class ArchiveCustomerBody(Wire):
    """``POST /v1/customers/archive``."""

    id: NonEmptyStr


class Customer(Returned):
    """A customer as ``POST /v1/customers`` returns it (the SDK's ``Customer``)."""

    id: StrictStr
    name: StrictStr
    external_id: StrictStr
    ingest_aliases: list[StrictStr]
    custom_fields: dict[str, str] | None = None


class CustomerConfig(Returned):
    salesforce_account_id: str | None = None


class CustomerDetail(Customer):
    """A customer as get and list return it (the SDK's ``CustomerDetail``)."""

    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None
    customer_config: CustomerConfig = Field(default_factory=CustomerConfig)
    custom_fields: dict[str, str] = Field(default_factory=dict)


def customer_wire(
    *,
    id: str,
    name: str,
    aliases: list[str],
    external_id: str | None,
    custom_fields: dict[str, str],
    created_at: str,
    updated_at: str,
    archived_at: str | None,
) -> dict[str, Any]:
    """A stored customer in Metronome's shape. ``external_id`` is, as Metronome defines it,
    the first id an event may use: the one given at creation, else the first alias, else
    the Metronome id."""
    out: dict[str, Any] = {
        "id": id,
        "name": name,
        "external_id": external_id or (aliases[0] if aliases else id),
        "ingest_aliases": aliases,
        "custom_fields": custom_fields,
        "customer_config": {},
        "created_at": created_at,
        "updated_at": updated_at,
        "archived_at": archived_at,
    }
    return out
