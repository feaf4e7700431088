"""``create_app(settings) -> FastAPI``: routers, middlewares, error handlers, OpenAPI.

Middlewares, outermost first, on ``/v1`` requests only:
request log -> fault injection -> bearer auth -> idempotency -> the routes (the hot ones,
``POST /v1/ingest``, dispatched directly by ``HotRoutes``).
So the log sees every answer (injected ones too); injected errors happen before auth and
do nothing; a dropped response is dropped after idempotency stored it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import __doc__ as package_doc
from .auth import BearerAuthMiddleware
from .customer_store import CustomerStore
from .errors import install_error_handlers
from .faults import FaultInjector, FaultMiddleware
from .hot_routes import HotRoutes
from .idempotency import IdempotencyMiddleware
from .metering import EngineSlot, engine_path
from .openapi import install_openapi
from .pricing_store import PricingStore
from .request_log import RequestLog, RequestLogMiddleware
from .routers import (
    admin,
    alerts,
    billable_metrics,
    custom_fields,
    customers,
    events,
    ingest,
    notifications,
    packages,
    pricing_units,
    product_orders,
    products,
    rate_cards,
    usage,
)
from .settings import Settings
from .store import Store

VERSION = "0.1.0"


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """A Metronome-compatible app; ``store`` defaults to one opened at ``settings.db``."""
    settings = settings or Settings()
    store = store or Store(settings.db)

    engines = EngineSlot(engine_path(store.path))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engines.open()  # a bad events file fails the start, not the first request
        yield
        engines.close()
        store.close()

    app = FastAPI(
        title="metronome-local",
        version=VERSION,
        description=package_doc or "",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.customers = CustomerStore(store)
    app.state.engines = engines
    app.state.pricing = PricingStore(store)
    app.state.pricing_units = pricing_units.PricingUnitStore(store)
    app.state.alerts = alerts.AlertStore(store)
    app.state.notifications = notifications.NotificationStore(store)
    app.state.product_orders = product_orders.ProductOrders(store)
    app.state.packages = packages.PackageStore(store, app.state.pricing)
    app.state.faults = FaultInjector(settings.faults, seed=settings.seed)
    app.state.request_log = RequestLog(settings.request_log_size)

    app.include_router(billable_metrics.router)
    app.include_router(custom_fields.router)
    app.include_router(customers.router)
    app.include_router(ingest.router)
    app.include_router(usage.router)
    app.include_router(events.router)
    app.include_router(products.router)
    app.include_router(rate_cards.router)
    app.include_router(pricing_units.router)
    app.include_router(alerts.router)
    app.include_router(notifications.router)
    app.include_router(product_orders.router)
    app.include_router(packages.router)
    app.include_router(admin.router)
    install_error_handlers(app)
    install_openapi(app)

    # Added innermost first: the last one added runs first.
    app.add_middleware(HotRoutes, routes={("POST", "/v1/ingest"): ingest.ingest})
    app.add_middleware(
        IdempotencyMiddleware, store=store, ttl_seconds=settings.idempotency_ttl_seconds
    )
    app.add_middleware(BearerAuthMiddleware, tokens=settings.tokens)
    app.add_middleware(FaultMiddleware, injector=app.state.faults)
    app.add_middleware(RequestLogMiddleware, log=app.state.request_log)
    return app
