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


def property_texts(properties: Mapping[str, Any]) -> dict[str, str]:
    """Every property's text, nulls left out: what filters, groups and SQL metrics read."""
    texts = {}
    for name, value in properties.items():
        text = property_text(value)
        if text is not None:
            texts[name] = text
    return texts
