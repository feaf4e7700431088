"""A random Metronome account, made through the official ``metronome`` SDK (as a team's
scripts or Metronome's UI would have made it), for the export round trip and its benchmark.

``seed(client, rng, size)`` makes custom field keys (three entity kinds, names with spaces),
metrics of every kind (COUNT, SUM, MAX, LATEST, UNIQUE and SQL; some sharing a name, one
archived), products of every type (USAGE with pricing group keys, a future scheduled update,
custom fields; COMPOSITE over other products; one archived) and rate cards whose schedules
hold FLAT and TIERED rates, SUBSCRIPTION rates with a billing frequency, entries ending
early and entries dated in the future. Returns what it made that is live, by kind.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from metronome import Metronome

WORDS = tuple(
    [
        "tokens",
        "api",
        "requests",
        "storage",
        "gpu",
        "seconds",
        "seats",
        "egress",
        "images",
        "audio",
        "search",
        "embeddings",
        "fine",
        "tune",
        "batch",
        "support",
        "priority",
        "vector",
        "index",
        "cache",
    ]
)
AGGREGATIONS = ("COUNT", "SUM", "MAX", "LATEST", "UNIQUE", "SQL")
PRODUCT_TYPES = ("USAGE", "FIXED", "SUBSCRIPTION", "PRO_SERVICE", "COMPOSITE")


@dataclass(frozen=True)
class Size:
    metrics: int
    products: int
    cards: int
    rates_per_card: int


SMALL = Size(metrics=12, products=10, cards=2, rates_per_card=12)


def _name(rng: random.Random, index: int) -> str:
    words = rng.sample(WORDS, 2)
    # Every 5th name repeats a plain one: namesakes must still get distinct resource names.
    return f"{words[0].title()} {words[1]}" if index % 5 else "Shared name"


def seed(client: Metronome, rng: random.Random, size: Size) -> dict[str, list[str]]:
    """Make the account; returns the ids of the live objects by kind."""
    made: dict[str, list[str]] = {"keys": [], "metrics": [], "products": [], "cards": []}
    fields = {"billable_metric": "owner team", "contract_product": "gl code", "rate_card": "region"}
    for entity, key in fields.items():
        client.v1.custom_fields.add_key(entity=entity, key=key, enforce_uniqueness=False)  # type: ignore[arg-type]
        made["keys"].append(f"{entity}/{key}")

    grouped: list[str] = []
    for i in range(size.metrics):
        kind = AGGREGATIONS[i % len(AGGREGATIONS)]
        args: dict[str, Any] = {
            "name": _name(rng, i),
            "custom_fields": {"owner team": rng.choice(["ml", "platform", "billing"])},
        }
        if kind == "SQL":
            args["sql"] = f"select count(*) as value from events where event_type = 'e{i}'"
        else:
            args["aggregation_type"] = kind
            args["event_type_filter"] = {"in_values": [f"event_{i}"]}
            args["property_filters"] = [{"name": "model", "exists": True}]
            if kind != "COUNT":
                args["property_filters"].append({"name": "amount", "exists": True})
                args["aggregation_key"] = "amount"
            if rng.random() < 0.5:
                args["property_filters"].append(
                    {"name": "region", "not_in_values": ["test", f"r{rng.randint(0, 9)}"]}
                )
            args["group_keys"] = [["model"]]
        metric_id = client.v1.billable_metrics.create(**args).data.id
        made["metrics"].append(metric_id)
        if kind != "SQL":
            grouped.append(metric_id)
    gone = client.v1.billable_metrics.create(name="Retired metric", aggregation_type="COUNT")
    client.v1.billable_metrics.archive(id=gone.data.id)

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    kinds: dict[str, str] = {}
    for i in range(size.products):
        ptype = PRODUCT_TYPES[i % len(PRODUCT_TYPES)]
        args = {
            "name": _name(rng, i),
            "type": ptype,
            "custom_fields": {"gl code": str(rng.randint(1000, 9999))},
        }
        if ptype == "USAGE":
            args["billable_metric_id"] = rng.choice(grouped)
            args["pricing_group_key"] = ["model"]
            args["tags"] = ["usage"]
            if rng.random() < 0.5:
                args["quantity_conversion"] = {"conversion_factor": 1000, "operation": "DIVIDE"}
        elif ptype == "COMPOSITE":
            parts = [p for p, t in kinds.items() if t == "USAGE"]
            if parts:
                args["composite_product_ids"] = rng.sample(parts, min(2, len(parts)))
            else:
                args["composite_tags"] = ["usage"]
        product_id = client.v1.contracts.products.create(**args).data.id
        kinds[product_id] = ptype
        made["products"].append(product_id)
        if i % 3 == 0:  # a change already scheduled for later: part of what the product is
            client.v1.contracts.products.update(
                product_id=product_id, starting_at=now + timedelta(days=30), is_refundable=False
            )
    old = client.v1.contracts.products.create(name="Retired product", type="FIXED")
    client.v1.contracts.products.archive(product_id=old.data.id)

    priced = [p for p, t in kinds.items() if t in ("USAGE", "FIXED", "SUBSCRIPTION")]
    launch = datetime(2025, 1, 1, tzinfo=UTC)
    future = now.replace(hour=0) + timedelta(days=400)
    # A month apart over two years, and one date in the future: room for many rates per card.
    starts = [launch + timedelta(days=30 * k) for k in range(24)] + [future]
    for c in range(size.cards):
        card_id = client.v1.contracts.rate_cards.create(
            name=f"{_name(rng, c + 1)} prices",
            description=f"card {c}",
            custom_fields={"region": rng.choice(["us", "eu"])},
        ).data.id
        made["cards"].append(card_id)
        rates: list[dict[str, Any]] = []
        seen: set[tuple[str, str, datetime]] = set()
        room = len(priced) * 3 * len(starts)
        if size.rates_per_card > room:
            raise ValueError(f"at most {room} distinct rates per card with these products")
        while len(rates) < size.rates_per_card:
            product_id = rng.choice(priced)
            ptype = kinds[product_id]
            start = rng.choice(starts)
            model = rng.choice(["large", "mini", "base"]) if ptype == "USAGE" else ""
            if (product_id, model, start) in seen:
                continue
            seen.add((product_id, model, start))
            rate: dict[str, Any] = {
                "product_id": product_id,
                "entitled": True,
                "starting_at": start,
            }
            if ptype == "USAGE":
                rate["pricing_group_values"] = {"model": model}
            if ptype == "USAGE" and rng.random() < 0.5:
                rate["rate_type"] = "TIERED"
                rate["tiers"] = [
                    {"size": float(rng.randint(1, 9) * 1000), "price": rng.randint(2, 90) / 100},
                    {"price": rng.randint(1, 9) / 1000},
                ]
            else:
                rate["rate_type"] = "FLAT"
                rate["price"] = float(rng.randint(1, 5000))
            if ptype == "SUBSCRIPTION":
                rate["billing_frequency"] = rng.choice(["MONTHLY", "ANNUAL"])
            if start == launch and rng.random() < 0.5:
                rate["ending_before"] = launch + timedelta(days=90)
            rates.append(rate)
        for chunk in range(0, len(rates), 100):
            client.v1.contracts.rate_cards.rates.add_many(
                rate_card_id=card_id,
                rates=rates[chunk : chunk + 100],  # type: ignore[arg-type]
            )
    return made
