"""The same pricing, promoted stack by stack: sandbox first, then production.

Everything that differs between environments is stack config (Pulumi.<stack>.yaml):
`metronome:baseUrl` (and the secret `metronome:bearerToken`) say where the metrics go;
`pricing:nameSuffix` marks sandbox display names; `pricing:ownerTeam` is a custom field.
The definitions themselves are identical, so what was tried in sandbox is what production
gets: metrics, the products that price them, and the rate card with its price schedule.
A price change is a new rate entry with a later `starting_at`, promoted like any change.
"""

import pulumi

from pulumi_metronome import (
    BillableMetric,
    CustomFieldKey,
    Product,
    PropertyFilterArgs,
    RateArgs,
    RateCard,
    TierArgs,
)

config = pulumi.Config("pricing")
suffix = config.get("nameSuffix") or ""
owner = config.get("ownerTeam") or "pricing"

owner_team = CustomFieldKey("owner_team")
tagged = pulumi.ResourceOptions(depends_on=[owner_team])

tokens = BillableMetric(
    "tokens",
    name=f"Tokens by model{suffix}",
    aggregation_type="SUM",
    aggregation_key="tokens",
    event_type_filter={"in_values": ["completion"]},
    property_filters=[
        PropertyFilterArgs(name="tokens", exists=True),
        PropertyFilterArgs(name="model", in_values=["atlas-large", "atlas-mini"]),
    ],
    group_keys=[["model"]],
    custom_fields={"owner_team": owner},
    opts=tagged,
)

api_requests = BillableMetric(
    "api-requests",
    name=f"API requests{suffix}",
    aggregation_type="COUNT",
    event_type_filter={"in_values": ["api_request"]},
    property_filters=[PropertyFilterArgs(name="status_class", not_in_values=["4xx", "5xx"])],
    custom_fields={"owner_team": owner},
    opts=tagged,
)

active_users = BillableMetric(
    "active-users",
    name=f"Distinct active users{suffix}",
    aggregation_type="UNIQUE",
    aggregation_key="user_id",
    event_type_filter={"in_values": ["completion", "api_request"]},
    property_filters=[PropertyFilterArgs(name="user_id", exists=True)],
    custom_fields={"owner_team": owner},
    opts=tagged,
)

token_usage = Product(
    "tokens",
    name=f"Tokens{suffix}",
    type="USAGE",
    billable_metric_id=tokens.id,
    pricing_group_key=["model"],
)
request_usage = Product(
    "api-requests", name=f"API requests{suffix}", type="USAGE", billable_metric_id=api_requests.id
)
subscription = Product("platform", name=f"Platform subscription{suffix}", type="SUBSCRIPTION")

LAUNCH = "2026-01-01T00:00:00Z"
list_prices = RateCard(
    "list-prices",
    name=f"List prices{suffix}",
    rates=[
        RateArgs(
            product_id=token_usage.id,
            rate_type="TIERED",
            pricing_group_values={"model": "atlas-large"},
            tiers=[TierArgs(size=10_000_000, price=0.0012), TierArgs(price=0.0009)],
            starting_at=LAUNCH,
        ),
        RateArgs(
            product_id=token_usage.id,
            rate_type="TIERED",
            pricing_group_values={"model": "atlas-mini"},
            tiers=[TierArgs(size=10_000_000, price=0.0002), TierArgs(price=0.00015)],
            starting_at=LAUNCH,
        ),
        RateArgs(product_id=request_usage.id, rate_type="FLAT", price=0.05, starting_at=LAUNCH),
        RateArgs(
            product_id=subscription.id,
            rate_type="FLAT",
            price=4900,
            billing_frequency="MONTHLY",
            starting_at=LAUNCH,
        ),
    ],
)

pulumi.export("stack", pulumi.get_stack())
pulumi.export("rate_card_id", list_prices.id)
pulumi.export(
    "metric_ids",
    {
        "tokens": tokens.id,
        "api_requests": api_requests.id,
        "active_users": active_users.id,
    },
)
