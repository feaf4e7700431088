"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from . import wire
from .faults import FaultInjector
from .request_log import RequestLog
from .settings import Settings
from .store import Store

T = TypeVar("T")


def _state(name: str, kind: type[T]) -> Callable[[Request], T]:
    """A dependency returning ``app.state.<name>`` (set by ``create_app``), typed."""

    def get(request: Request) -> T:
        value: T = getattr(request.app.state, name)
        return value

    get.__name__ = f"get_{name}"
    return get


StoreDep = Annotated[Store, Depends(_state("store", Store))]
SettingsDep = Annotated[Settings, Depends(_state("settings", Settings))]
RequestLogDep = Annotated[RequestLog, Depends(_state("request_log", RequestLog))]
FaultsDep = Annotated[FaultInjector, Depends(_state("faults", FaultInjector))]
#: The JSON body, read raw so that the route validates it with the shared models.
BodyDep = Annotated[Any, Depends(wire.json_body)]
