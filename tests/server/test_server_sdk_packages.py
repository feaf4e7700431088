"""The official ``metronome`` SDK creates, reads, lists and archives packages on the local
server, and lists the contracts on them, with strict response validation: every answer
must parse into the SDK's own types (``metronome.types.v1.package_*``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import metronome
import pytest
from metronome import Metronome
from metronome.types.v1 import (
    PackageArchiveResponse,
    PackageCreateResponse,
    PackageListContractsOnPackageResponse,
    PackageListResponse,
    PackageRetrieveResponse,
)

from metronome_local.process import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def client(server: LocalServer) -> Iterator[Metronome]:
    with Metronome(
        bearer_token=server.token,
        base_url=server.url,
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


def _card_and_products(client: Metronome) -> tuple[str, str, str]:
    fixed = client.v1.contracts.products.create(name="Support", type="FIXED").data.id
    sub = client.v1.contracts.products.create(name="Seats", type="SUBSCRIPTION").data.id
    card = client.v1.contracts.rate_cards.create(name="List prices").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=sub,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=1000,
        billing_frequency="MONTHLY",
        starting_at="2026-01-01T00:00:00Z",
    )
    return card, fixed, sub


def _full_package(card: str, fixed: str, sub: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Starter",
        "rate_card_id": card,
        "aliases": [{"name": "starter", "starting_at": "2027-01-01T00:00:00Z"}],
        "duration": {"unit": "YEARS", "value": 1},
        "multiplier_override_prioritization": "EXPLICIT",
        "overrides": [
            {
                "override_specifiers": [{"product_id": fixed}],
                "starting_at_offset": {"unit": "DAYS", "value": 0},
                "type": "MULTIPLIER",
                "multiplier": 0.8,
                "priority": 1,
            },
            {
                "override_specifiers": [{"product_tags": ["ai"]}],
                "starting_at_offset": {"unit": "MONTHS", "value": 1},
                "duration": {"unit": "MONTHS", "value": 6},
                "type": "OVERWRITE",
                "overwrite_rate": {"rate_type": "FLAT", "price": 3},
            },
        ],
        "commits": [
            {
                "product_id": fixed,
                "type": "PREPAID",
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 10000,
                            "starting_at_offset": {"unit": "DAYS", "value": 0},
                            "duration": {"unit": "YEARS", "value": 1},
                        }
                    ]
                },
                "invoice_schedule": {
                    "schedule_items": [
                        {
                            "date_offset": {"unit": "DAYS", "value": 0},
                            "quantity": 1,
                            "unit_price": 9000,
                        }
                    ]
                },
            }
        ],
        "credits": [
            {
                "product_id": fixed,
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 500,
                            "starting_at_offset": {"unit": "DAYS", "value": 0},
                            "duration": {"unit": "MONTHS", "value": 1},
                        }
                    ]
                },
            }
        ],
        "scheduled_charges": [
            {
                "product_id": fixed,
                "schedule": {
                    "schedule_items": [
                        {
                            "date_offset": {"unit": "MONTHS", "value": 1},
                            "quantity": 1,
                            "unit_price": 2500,
                        }
                    ]
                },
            }
        ],
        "subscriptions": [
            {
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {"product_id": sub, "billing_frequency": "MONTHLY"},
                "initial_quantity": 5,
            }
        ],
        **extra,
    }


def test_package_lifecycle(client: Metronome) -> None:
    card, fixed, sub = _card_and_products(client)
    created = client.v1.packages.create(**_full_package(card, fixed, sub))
    assert isinstance(created, PackageCreateResponse)
    package_id = created.data.id

    got = client.v1.packages.retrieve(package_id=package_id)
    assert isinstance(got, PackageRetrieveResponse)
    data = got.data
    assert (data.name, data.rate_card_id) == ("Starter", card)
    assert [(o.type, o.multiplier) for o in data.overrides] == [
        ("MULTIPLIER", 0.8),
        ("OVERWRITE", None),
    ]
    assert data.overrides[1].overwrite_rate is not None
    assert data.overrides[1].overwrite_rate.price == 3
    assert data.commits[0].product.name == "Support"
    assert data.commits[0].access_schedule is not None
    assert data.commits[0].access_schedule.schedule_items[0].amount == 10000
    assert data.scheduled_charges[0].schedule.schedule_items[0].unit_price == 2500
    assert data.subscriptions is not None
    assert data.subscriptions[0].subscription_rate.product.name == "Seats"
    assert data.duration is not None and (data.duration.unit, data.duration.value) == ("YEARS", 1)
    assert data.aliases is not None and data.aliases[0].name == "starter"

    listed = list(client.v1.packages.list(limit=1))
    assert all(isinstance(p, PackageListResponse) for p in listed)
    assert package_id in [p.id for p in listed]

    contracts = list(client.v1.packages.list_contracts_on_package(package_id=package_id))
    assert contracts == []

    archived = client.v1.packages.archive(package_id=package_id)
    assert isinstance(archived, PackageArchiveResponse)
    assert archived.data.id == package_id
    assert package_id not in [p.id for p in client.v1.packages.list()]
    assert package_id in [p.id for p in client.v1.packages.list(archive_filter="ARCHIVED")]
    assert client.v1.packages.retrieve(package_id=package_id).data.archived_at is not None


def test_alias_takeover_and_contracts(client: Metronome) -> None:
    """A new package given a held alias from a date takes it over from then: a contract by
    alias before that date lands on the old package, one after on the new."""
    card, _fixed, _sub = _card_and_products(client)
    old = client.v1.packages.create(
        name="Pro v1", rate_card_id=card, aliases=[{"name": "pro"}]
    ).data.id
    new = client.v1.packages.create(
        name="Pro v2",
        rate_card_id=card,
        aliases=[{"name": "pro", "starting_at": "2027-03-01T00:00:00Z"}],
    ).data.id
    old_aliases = client.v1.packages.retrieve(package_id=old).data.aliases or []
    assert [(a.name, a.ending_before and a.ending_before.isoformat()) for a in old_aliases] == [
        ("pro", "2027-03-01T00:00:00+00:00")
    ]
    before = client.post(
        "/v1/contracts/create",
        cast_to=object,
        body={"customer_id": "c1", "starting_at": "2027-02-01T00:00:00Z", "package_alias": "pro"},
    )
    after = client.post(
        "/v1/contracts/create",
        cast_to=object,
        body={"customer_id": "c2", "starting_at": "2027-04-01T00:00:00Z", "package_alias": "pro"},
    )
    on_old = list(client.v1.packages.list_contracts_on_package(package_id=old))
    on_new = list(client.v1.packages.list_contracts_on_package(package_id=new))
    assert all(isinstance(c, PackageListContractsOnPackageResponse) for c in on_old + on_new)
    assert [(c.customer_id, c.contract_id) for c in on_old] == [("c1", before["data"]["id"])]  # type: ignore[index]
    assert [(c.customer_id, c.contract_id) for c in on_new] == [("c2", after["data"]["id"])]  # type: ignore[index]


def test_bad_packages_are_refused_naming_the_field(client: Metronome) -> None:
    card, fixed, sub = _card_and_products(client)
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=card,
            rate_card_alias="list",
            overrides=[
                {
                    "override_specifiers": [{"product_id": fixed}],
                    "starting_at_offset": {"unit": "DAYS", "value": 0},
                    "type": "MULTIPLIER",
                }
            ],
        )
    message = str(refused.value)
    assert "rate_card_alias: cannot be given with rate_card_id" in message
    assert "overrides[0].multiplier: is required for type MULTIPLIER" in message
    bare = client.v1.contracts.rate_cards.create(name="No rates").data.id
    with pytest.raises(metronome.BadRequestError) as unpriced:
        client.v1.packages.create(
            name="Seats",
            rate_card_id=bare,
            subscriptions=[
                {
                    "collection_schedule": "ADVANCE",
                    "proration": {"is_prorated": True},
                    "subscription_rate": {"product_id": sub, "billing_frequency": "MONTHLY"},
                }
            ],
        )
    assert f"product {sub} has no rate on rate card {bare}" in str(unpriced.value)
    with pytest.raises(metronome.BadRequestError) as both:
        list(
            client.v1.packages.list_contracts_on_package(
                package_id=card,
                covering_date="2027-01-01T00:00:00Z",
                starting_at="2027-01-01T00:00:00Z",
            )
        )
    assert "starting_at: cannot be given with covering_date" in str(both.value)
    with pytest.raises(metronome.NotFoundError):
        client.v1.packages.retrieve(package_id="00000000-0000-0000-0000-000000000000")
