"""The demo pricing stack of an AI API company, as Metronome billable metrics.

`pulumi up` applies it to whatever `metronome:baseUrl` points at: the local server by
default (see the README), or a real Metronome account.
"""

import pulumi

from pulumi_metronome import BillableMetric, CustomFieldKey, PropertyFilterArgs

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
        PropertyFilterArgs(name="status_class", not_in_values=["4xx", "5xx"]),
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
