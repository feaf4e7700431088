"""``POST /v1/contract-pricing/rate-cards/setRateCardProductsOrder``: the order of a rate
card's products on invoices (the official SDK's ``ProductOrderSetParams``, ``{data: {id}}``
back). The card must exist and be live, and each product must exist. Metronome offers no
read of the order; the server keeps the last order set per card.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from pulumi_metronome.models import ProductOrderBody, SpecError, Violation, parse_model

from .. import wire
from ..deps import BodyDep
from ..errors import ApiError, BadRequest
from ..openapi import idempotent, request_body, responses
from ..pricing_store import PricingStore
from ..store import Store

router = APIRouter(prefix="/v1/contract-pricing/rate-cards", tags=["rate cards"])
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_card_product_orders (
    rate_card_id TEXT PRIMARY KEY,
    product_order TEXT NOT NULL        -- JSON list of product ids
)
"""


class ProductOrders:
    """The last product order set per card, in the ``Store``'s database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.extend(_SCHEMA, ("rate_card_product_orders",))

    def set(self, card_id: str, product_ids: list[str]) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO rate_card_product_orders VALUES (?, ?)",
                (card_id, json.dumps(product_ids)),
            )


def get_orders(request: Request) -> ProductOrders:
    orders: ProductOrders = request.app.state.product_orders
    return orders


def get_pricing(request: Request) -> PricingStore:
    pricing: PricingStore = request.app.state.pricing
    return pricing


OrdersDep = Annotated[ProductOrders, Depends(get_orders)]
PricingDep = Annotated[PricingStore, Depends(get_pricing)]


@router.post(
    "/setRateCardProductsOrder",
    summary="Set the order of a rate card's products on invoices",
    operation_id="setRateCardProductsOrder",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(ProductOrderBody)),
)
def set_products_order(orders: OrdersDep, pricing: PricingDep, body: BodyDep) -> JSONResponse:
    try:
        order = parse_model(ProductOrderBody, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    card = pricing.get_rate_card(order.rate_card_id)  # 404 for an unknown card
    if card.get("archived_at") is not None:
        raise BadRequest(f"rate card {order.rate_card_id} is archived; it cannot be changed")
    problems = []
    for index, product_id in enumerate(order.product_order):
        try:
            pricing.get_product(product_id)
        except ApiError as error:
            if error.status != 404:
                raise
            problems.append(Violation(f"product_order[{index}]", f"product {product_id} not found"))
    if problems:
        raise BadRequest(problems)
    orders.set(order.rate_card_id, order.product_order)
    return JSONResponse({"data": {"id": order.rate_card_id}})
