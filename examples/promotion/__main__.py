"""The same pricing, promoted stack by stack: sandbox first, then production.

Everything that differs between environments is stack config (Pulumi.<stack>.yaml):
`metronome:baseUrl` (and the secret `metronome:bearerToken`) say where the metrics go;
`pricing:nameSuffix` marks sandbox display names; `pricing:ownerTeam` is a custom field.
The definitions themselves are identical, so what was tried in sandbox is what production
gets.
"""

import pulumi

from pulumi_metronome import BillableMetric, CustomFieldKey, PropertyFilterArgs

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

pulumi.export("stack", pulumi.get_stack())
pulumi.export(
    "metric_ids",
    {
        "tokens": tokens.id,
        "api_requests": api_requests.id,
        "active_users": active_users.id,
    },
)
