"""The demo's usage: customers, a week of realistic events, and a usage table.

    python scripts/demo_usage.py URL TOKEN METRIC_IDS_JSON [EVENTS_FILE]
    python scripts/demo_usage.py --customer ALIAS URL TOKEN

Run by ``scripts/demo.sh`` after ``pulumi up`` (streaming metrics only count events
ingested after they exist). Creates three customers of the AI API company (once: they are
found by ingest alias on later runs), ingests a sample of the last seven days of traffic
(completions, embeddings, API requests, storage snapshots, fine-tuning jobs) with
transaction ids fixed per day, so running the demo again the same day adds nothing, and
prints each customer's usage of each demo metric over those days, read back from
``POST /v1/usage``. With ``EVENTS_FILE``, also writes the events ingested (JSON lines, one
ingest event a line) for ``pulumi-metronome impact``. With ``--customer ALIAS``, only finds
or creates the customers and prints the id of the one with that ingest alias:
``scripts/demo.sh`` runs it before ``pulumi up``, as the demo's alert is for one of them.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

CUSTOMERS = {
    "acme-robotics": "Acme Robotics",
    "globex": "Globex Corporation",
    "initech": "Initech",
}
MODELS = ("atlas-large", "atlas-mini", "atlas-vision")
REGIONS = ("us-east", "eu-west", "ap-south")
ENDPOINTS = ("/v1/chat", "/v1/embed", "/v1/files")
DAYS = 7
LABELS = {
    "tokens": "tokens",
    "api_requests": "API requests",
    "vector_storage": "peak storage GB",
    "active_users": "active users",
    "fine_tuning_gpu_hours": "GPU hours",
}


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        if response.status_code != 200:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


def customers(api: Api) -> dict[str, str]:
    """Alias -> customer id, creating the customers that do not exist yet."""
    ids = {}
    for alias, name in CUSTOMERS.items():
        found = api.call("GET", "/v1/customers", params={"ingest_alias": alias})["data"]
        if found:
            ids[alias] = found[0]["id"]
        else:
            body = {"name": name, "ingest_aliases": [alias]}
            ids[alias] = api.call("POST", "/v1/customers", json=body)["data"]["id"]
    return ids


def events(today: datetime) -> Iterator[dict[str, Any]]:
    """A week of traffic, the same for every run on the same day."""
    rng = random.Random(today.date().isoformat())
    volume = {"acme-robotics": 40, "globex": 15, "initech": 4}
    stamp = today.strftime("%Y%m%d")
    for day in range(DAYS):
        start = today - timedelta(days=DAYS - 1 - day)
        for alias, per_day in volume.items():
            for n in range(per_day):
                at = start + timedelta(seconds=rng.randrange(86_400))
                if at > datetime.now(UTC):
                    continue
                when = at.isoformat().replace("+00:00", "Z")
                tid = f"demo-{stamp}-{alias}-{day}-{n}"
                user = f"user-{rng.randrange(per_day)}"
                kind = rng.choice(("completion", "completion", "embedding", "api_request"))
                if kind == "api_request":
                    properties = {
                        "endpoint": rng.choice(ENDPOINTS),
                        "status_class": rng.choice(("2xx", "2xx", "2xx", "4xx", "5xx")),
                        "user_id": user,
                    }
                else:
                    properties = {
                        "model": rng.choice(MODELS),
                        "region": rng.choice(REGIONS),
                        "tokens": str(rng.randrange(200, 6000)),
                        "user_id": user,
                    }
                yield _event(tid, alias, kind, when, properties)
            snapshot = start + timedelta(hours=23)
            if snapshot <= datetime.now(UTC):
                yield _event(
                    f"demo-{stamp}-{alias}-{day}-storage",
                    alias,
                    "storage_snapshot",
                    snapshot.isoformat().replace("+00:00", "Z"),
                    {"storage_gb": f"{rng.uniform(5, 400) * per_day / 40:.2f}"},
                )
        job = start + timedelta(hours=12)
        if job <= datetime.now(UTC):
            yield _event(
                f"demo-{stamp}-acme-robotics-{day}-finetune",
                "acme-robotics",
                "fine_tune_job",
                job.isoformat().replace("+00:00", "Z"),
                {"gpu_seconds": str(rng.randrange(1_800, 36_000))},
            )


def _event(tid: str, alias: str, kind: str, when: str, properties: dict[str, str]) -> Any:
    return {
        "transaction_id": tid,
        "customer_id": alias,
        "event_type": kind,
        "timestamp": when,
        "properties": properties,
    }


def _number(value: float | None) -> str:
    """``1,234.5``; ``-`` for no value (a MAX, LATEST or SQL SUM over no events)."""
    if value is None:
        return "-"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--customer"]:
        # Before `pulumi up`: the customers (made once); print one's id by ingest alias.
        alias, url, token = argv[1:4]
        print(customers(Api(url, token))[alias])
        return 0
    url, token, metric_ids_json, *events_file = argv
    metric_ids: dict[str, str] = json.loads(metric_ids_json)
    api = Api(url, token)
    ids = customers(api)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sample = list(events(today))
    for start in range(0, len(sample), 100):
        api.call("POST", "/v1/ingest", json=sample[start : start + 100])
    print(f"ingested {len(sample)} events for {len(ids)} customers (duplicates are ignored)")
    for path in events_file:
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(e) + "\n" for e in sample)

    body = {
        "starting_on": (today - timedelta(days=DAYS - 1)).isoformat().replace("+00:00", "Z"),
        "ending_before": (today + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "window_size": "NONE",
        "customer_ids": list(ids.values()),
        "billable_metrics": [{"id": metric_ids[key]} for key in LABELS if key in metric_ids],
    }
    rows = api.call("POST", "/v1/usage", json=body)["data"]
    value = {(r["customer_id"], r["billable_metric_id"]): r["value"] for r in rows}
    keys = [key for key in LABELS if key in metric_ids]
    print(f"\nusage over the last {DAYS} days (POST /v1/usage):")
    header = f"{'customer':<20}" + "".join(f"{LABELS[k]:>17}" for k in keys)
    print(header)
    print("-" * len(header))
    for alias, customer_id in ids.items():
        cells = [_number(value.get((customer_id, metric_ids[key]))) for key in keys]
        print(f"{CUSTOMERS[alias]:<20}" + "".join(f"{cell:>17}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
