"""Placeholder of the package schema and property names (replaced by the generated one).

Only what the plugin needs to run: the type tokens, camelCase <-> snake_case names that
leave user-chosen map keys alone, and a minimal schema.
"""

from __future__ import annotations

import re
from typing import Any

PACKAGE_NAME = "metronome"
TOKENS: dict[str, str] = {
    f"{PACKAGE_NAME}:index:{kind}": kind
    for kind in ("BillableMetric", "CustomFieldKey", "Product", "RateCard")
}
#: Maps whose keys the user chooses: never renamed.
_USER_MAPS = frozenset({"custom_fields", "pricing_group_values", "custom_rate"})


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _rename(value: Any, rename: Any, to_snake: bool) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            core_key = _snake(key) if to_snake else key
            new_key = rename(key)
            out[new_key] = item if core_key in _USER_MAPS else _rename(item, rename, to_snake)
        return out
    if isinstance(value, list):
        return [_rename(item, rename, to_snake) for item in value]
    return value


def to_core(token: str, inputs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _rename(inputs, _snake, True)
    return result


def from_core(token: str, values: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _rename(values, _camel, False)
    return result


def package_schema(version: str) -> dict[str, Any]:
    return {
        "name": PACKAGE_NAME,
        "version": version,
        "config": {
            "variables": {
                "bearerToken": {"type": "string", "secret": True},
                "baseUrl": {"type": "string"},
            }
        },
        "provider": {
            "inputProperties": {
                "bearerToken": {"type": "string", "secret": True},
                "baseUrl": {"type": "string"},
            }
        },
        "resources": {token: {"properties": {}, "inputProperties": {}} for token in TOKENS},
    }
