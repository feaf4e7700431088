"""How an event property reads as text: the one rule filters, group values, UNIQUE and SQL
metrics share (``metering-semantics.md``, "A property's text").

The text is computed once, at ingestion, so that every query compares plain strings:
a string reads as is; a JSON number as its shortest decimal form (``5``, ``5.0`` and ``"5"``
all read ``5`` where they are numbers; ``2.50`` reads ``2.5``); ``true``/``false`` as those
words; ``null`` as absent. Objects and arrays (Metronome recommends flat string values) read
as their compact JSON with sorted keys (**decision**).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def number_text(value: int | float | Decimal) -> str | None:
    """``5.0`` -> ``5``, ``2.50`` -> ``2.5``, ``1e3`` -> ``1000``; never an exponent."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = Decimal(repr(value))
    if not value.is_finite():
        return None
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def property_text(value: Any) -> str | None:
    """The text of one property value, ``None`` when it counts as absent (JSON null)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return number_text(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def texts_json(properties: Mapping[str, Any] | None) -> str:
    """The JSON object of property texts stored beside the event (nulls left out)."""
    if not properties:
        return "{}"
    if all(type(v) is str for v in properties.values()):
        return json.dumps(properties, separators=(",", ":"))
    texts = {}
    for name, value in properties.items():
        text = property_text(value)
        if text is not None:
            texts[name] = text
    return json.dumps(texts, separators=(",", ":"))


def raw_json(properties: Mapping[str, Any] | None) -> str:
    """The properties as sent, for ``/v1/events/search`` (exact decimals kept as numbers)."""
    if not properties:
        return "{}"
    return json.dumps(properties, separators=(",", ":"), default=_decimal_default)


def _decimal_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # json has no Decimal; a float would lose digits, so keep its exact text as a string.
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
