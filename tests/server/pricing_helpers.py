"""Shortcuts for the product and rate card tests (plain HTTP through ``ApiClient``)."""

from __future__ import annotations

import uuid
from typing import Any

PRODUCTS = "/v1/contract-pricing/products"
CARDS = "/v1/contract-pricing/rate-cards"
USD_CENTS = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


def name(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def bad(response: Any) -> str:
    """The message of a 400."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"message"}
    return str(body["message"])


def token_metric(api: Any) -> str:
    """A SUM metric with a compound group key (model, region) and a simple one (model)."""
    return str(
        api.create_metric(
            aggregation_type="SUM",
            aggregation_key="tokens",
            property_filters=[
                {"name": "tokens", "exists": True},
                {"name": "model", "exists": True},
                {"name": "region", "in_values": ["us", "eu"]},
            ],
            group_keys=[["model", "region"], ["model"]],
        )
    )


def product(api: Any, **fields: Any) -> str:
    body = {"name": name(), "type": "FIXED", **fields}
    return str(ok(api.post(f"{PRODUCTS}/create", json=body))["data"]["id"])


def get_product(api: Any, product_id: str) -> dict[str, Any]:
    data: dict[str, Any] = ok(api.post(f"{PRODUCTS}/get", json={"id": product_id}))["data"]
    return data


def card(api: Any, **fields: Any) -> str:
    body = {"name": name("card"), **fields}
    return str(ok(api.post(f"{CARDS}/create", json=body))["data"]["id"])


def get_card(api: Any, card_id: str) -> dict[str, Any]:
    data: dict[str, Any] = ok(api.post(f"{CARDS}/get", json={"id": card_id}))["data"]
    return data


def schedule(api: Any, card_id: str, **query: Any) -> list[dict[str, Any]]:
    body = {"rate_card_id": card_id, "starting_at": "2000-01-01T00:00:00Z", **query}
    data: list[dict[str, Any]] = ok(api.post(f"{CARDS}/getRateSchedule", json=body))["data"]
    return data


def rates_at(api: Any, card_id: str, at: str, **query: Any) -> list[dict[str, Any]]:
    body = {"rate_card_id": card_id, "at": at, **query}
    data: list[dict[str, Any]] = ok(api.post(f"{CARDS}/getRates", json=body))["data"]
    return data


def flat(
    product_id: str, price: float, starting_at: str = "2026-01-01T00:00:00Z", **more: Any
) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "entitled": True,
        "rate_type": "FLAT",
        "price": price,
        "starting_at": starting_at,
        **more,
    }
