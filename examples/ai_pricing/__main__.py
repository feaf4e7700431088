"""The demo pricing stack of an AI API company: metrics -> products -> a rate card -> a package.

Billable metrics measure usage; products are what invoices show (a USAGE product prices
one metric); the rate card prices the products: a tiered token price per model, a flat
price per API request and a monthly platform subscription. A package ("starter") is the
contract template sales provision from, on the list prices with 10% off tokens. A custom
pricing unit holds fine-tuning credits, and an alert warns when the largest customer's spend
passes $1,000 (set `alertCustomerId` in the stack config; `scripts/demo.sh` sets it to the
demo's Acme Robotics: Metronome reads an alert back only through the customer it is for).

`pulumi up` applies it to whatever `metronome:baseUrl` points at: the local server by
default (see the README), or a real Metronome account.
"""

import os
from datetime import UTC, datetime

import pulumi

from pulumi_metronome import (
    Alert,
    BillableMetric,
    CustomFieldKey,
    Package,
    PricingUnit,
    Product,
    PropertyFilterArgs,
    RateArgs,
    RateCard,
    TierArgs,
)

# A sample pricing change that `scripts/demo.sh` previews and prices with `pulumi-metronome
# impact` (never applied): client errors (4xx) become billed API requests, and API requests
# cost 0.08 cents from the first of next month.
SAMPLE_CHANGE = os.environ.get("AI_PRICING_SAMPLE_CHANGE") == "1"
_today = datetime.now(UTC)
NEXT_MONTH = f"{_today.year + _today.month // 12}-{_today.month % 12 + 1:02d}-01T00:00:00Z"

MODELS = ["atlas-large", "atlas-mini", "atlas-vision"]
REGIONS = ["us-east", "eu-west", "ap-south"]

# Custom field keys must be on Metronome's allow list before a metric can carry them.
owner_team = CustomFieldKey("owner_team")
pricing_tier = CustomFieldKey("pricing_tier")
tagged = pulumi.ResourceOptions(depends_on=[owner_team, pricing_tier])

tokens = BillableMetric(
    "tokens",
    name="Tokens by model and region",
    aggregation_type="SUM",
    aggregation_key="tokens",
    event_type_filter={"in_values": ["completion", "embedding"]},
    property_filters=[
        PropertyFilterArgs(name="tokens", exists=True),
        PropertyFilterArgs(name="model", in_values=MODELS),
        PropertyFilterArgs(name="region", in_values=REGIONS),
    ],
    group_keys=[["model", "region"]],  # one compound key: usage per (model, region)
    custom_fields={"owner_team": "inference", "pricing_tier": "usage"},
    opts=tagged,
)

requests = BillableMetric(
    "api-requests",
    name="API requests",
    aggregation_type="COUNT",
    event_type_filter={"in_values": ["api_request"]},
    property_filters=[
        PropertyFilterArgs(name="endpoint", exists=True),
        # Failed calls are not billed.
        PropertyFilterArgs(
            name="status_class", not_in_values=["5xx"] if SAMPLE_CHANGE else ["4xx", "5xx"]
        ),
    ],
    group_keys=[["endpoint"]],
    custom_fields={"owner_team": "platform", "pricing_tier": "usage"},
    opts=tagged,
)

storage = BillableMetric(
    "vector-storage",
    name="Peak vector storage (GB)",
    aggregation_type="MAX",
    aggregation_key="storage_gb",
    event_type_filter={"in_values": ["storage_snapshot"]},
    property_filters=[PropertyFilterArgs(name="storage_gb", exists=True)],
    custom_fields={"owner_team": "storage", "pricing_tier": "capacity"},
    opts=tagged,
)

active_users = BillableMetric(
    "active-users",
    name="Distinct active end users",
    aggregation_type="UNIQUE",
    aggregation_key="user_id",
    event_type_filter={"in_values": ["completion", "api_request"]},
    property_filters=[PropertyFilterArgs(name="user_id", exists=True)],
    custom_fields={"owner_team": "growth", "pricing_tier": "seat"},
    opts=tagged,
)

gpu_hours = BillableMetric(
    "fine-tuning-gpu-hours",
    name="Fine-tuning GPU hours",
    sql=(
        "SELECT SUM(CAST(properties.gpu_seconds AS DOUBLE)) / 3600 AS value "
        "FROM events WHERE event_type = 'fine_tune_job'"
    ),
    custom_fields={"owner_team": "training", "pricing_tier": "compute"},
    opts=tagged,
)

# --- products: what invoices show --------------------------------------------------------

token_usage = Product(
    "tokens",
    name="Tokens",
    type="USAGE",
    billable_metric_id=tokens.id,
    # Priced per model, shown per region: together the metric's compound key.
    pricing_group_key=["model"],
    presentation_group_key=["region"],
    tags=["usage", "inference"],
)
request_usage = Product(
    "api-requests",
    name="API requests",
    type="USAGE",
    billable_metric_id=requests.id,
    tags=["usage", "platform"],
)
platform_seat = Product(
    "platform-subscription",
    name="Platform subscription",
    type="SUBSCRIPTION",
    tags=["subscription"],
)

# --- the rate card: prices in USD cents, each from a date on ---------------------------------

LAUNCH = "2026-01-01T00:00:00Z"
list_prices = RateCard(
    "list-prices",
    name="List prices",
    description="Public list prices of the Atlas API",
    aliases=[{"name": "list-prices"}],
    rates=[
        # Tokens: tiered per model (cents per token), cheaper past the first 10M tokens.
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
        RateArgs(
            product_id=token_usage.id,
            rate_type="FLAT",
            pricing_group_values={"model": "atlas-vision"},
            price=0.002,
            starting_at=LAUNCH,
        ),
        # API requests: a flat price per request.
        RateArgs(product_id=request_usage.id, rate_type="FLAT", price=0.05, starting_at=LAUNCH),
        *(
            [
                RateArgs(
                    product_id=request_usage.id,
                    rate_type="FLAT",
                    price=0.08,
                    starting_at=NEXT_MONTH,
                )
            ]
            if SAMPLE_CHANGE
            else []
        ),
        # The platform subscription: $49 a month.
        RateArgs(
            product_id=platform_seat.id,
            rate_type="FLAT",
            price=4900,
            billing_frequency="MONTHLY",
            starting_at=LAUNCH,
        ),
    ],
)

# --- a package: the contract template sales provision from, by its alias -----------------------

starter = Package(
    "starter",
    name="Starter",
    rate_card_id=list_prices.id,
    aliases=[{"name": "starter"}],
    duration={"unit": "YEARS", "value": 1},
    overrides=[
        {
            "override_specifiers": [{"product_tags": ["inference"]}],
            "starting_at_offset": {"unit": "DAYS", "value": 0},
            "type": "MULTIPLIER",
            "multiplier": 0.9,
        }
    ],
)

# --- a custom pricing unit, and an alert on one customer's spend -------------------------------

# Credits prepaid fine-tuning is priced in, for rate cards that convert them to dollars.
fine_tuning_credits = PricingUnit("fine-tuning-credits", name="Fine-tuning credits")

alert_customer = pulumi.Config().get("alertCustomerId")
if alert_customer:
    spend_alert = Alert(
        "large-spend",
        name="Spend over $1,000",
        alert_type="spend_threshold_reached",
        threshold=100_000,  # USD cents
        customer_id=alert_customer,
    )
    pulumi.export("alert_id", spend_alert.id)

pulumi.export("pricing_unit_id", fine_tuning_credits.id)
pulumi.export("package_id", starter.id)
pulumi.export(
    "product_ids",
    {
        "tokens": token_usage.id,
        "api_requests": request_usage.id,
        "platform_subscription": platform_seat.id,
    },
)
pulumi.export("rate_card_id", list_prices.id)
pulumi.export(
    "metric_ids",
    {
        "tokens": tokens.id,
        "api_requests": requests.id,
        "vector_storage": storage.id,
        "active_users": active_users.id,
        "fine_tuning_gpu_hours": gpu_hours.id,
    },
)
