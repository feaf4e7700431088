"""Opaque ``next_page`` cursors: base64 of where a listing goes on, tagged with its kind."""

from __future__ import annotations

import base64
import binascii
import json

from .errors import BadRequest


def encode_cursor(kind: str, after: int) -> str:
    """The cursor of the page after sequence number ``after`` of listing ``kind``."""
    raw = json.dumps({"k": kind, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int:
    """The position in ``cursor`` (0 when absent or empty); 400 when it is not one of ours."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        after = data["after"]
        if data["k"] != kind or type(after) is not int or after < 0:
            raise ValueError(cursor)
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise BadRequest("next_page: is not a valid cursor") from None
    return after
