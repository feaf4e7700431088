"""An offset lifecycle event notification (``/v2/notifications/*``): a webhook Metronome
sends some time before or after a lifecycle event (e.g. 7 days before a contract ends).

Shapes are the official SDK's (``metronome.types.v2.notifications.OffsetCreateParams``,
``OffsetEditParams``; ``metronome.types.v2.LifecycleEventOffsetNotificationConfig`` back).
Only the policy can be edited, and its ``type`` must stay the lifecycle event type it was
created with: so ``policy.offset`` changes in place, ``name`` and ``policy.type`` replace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import StrictStr, field_validator

from .alert import UniquenessKey
from .common import NonEmptyStr, Returned, Wire, parse_model

#: An ISO-8601 duration, optionally negative (before the event): "P1D", "-PT2H", "P1W".
_DURATION = re.compile(
    r"^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)


class NotificationPolicy(Wire):
    """When the notification is sent: ``offset`` from a lifecycle event of type ``type``."""

    offset: StrictStr
    """An ISO-8601 duration from the event: positive after it, negative before it (e.g.
    "P1D": a day after, "-PT2H": two hours before). Changes in place."""
    type: NonEmptyStr
    """The lifecycle event the offset counts from (e.g. "contract.end"). Fixed at creation:
    a change replaces the notification."""

    @field_validator("offset")
    @classmethod
    def _iso_duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(
                f"{value!r} is not an ISO-8601 duration (e.g. P1D, -PT2H, P1W, -P1DT12H)"
            )
        return value


class NotificationSpec(Wire):
    """A notification as declared: the body of ``POST /v2/notifications/create``."""

    name: NonEmptyStr
    """The notification's name. Fixed at creation (Metronome's edit takes only the
    policy): a change replaces the notification."""
    policy: NotificationPolicy
    """When the notification is sent."""
    uniqueness_key: UniquenessKey | None = None
    """A create with a key already used fails instead of making a second notification.
    Default: one the provider derives from the resource's name and definition."""

    def create_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_state(cls, props: Mapping[str, Any]) -> NotificationSpec:
        data = {k: props[k] for k in cls.model_fields if props.get(k) is not None}
        return parse_model(cls, data)


class NotificationEdit(Wire):
    """The body of ``POST /v2/notifications/edit`` for an offset notification."""

    id: NonEmptyStr
    policy: NotificationPolicy


#: Fields fixed at creation (``policy`` is compared by its ``type``; see the resource).
NOTIFICATION_FIELDS: tuple[str, ...] = tuple(NotificationSpec.model_fields)


class ReturnedPolicy(Returned):
    offset: str
    type: str


class Notification(Returned):
    """A notification as Metronome returns it (``LifecycleEventOffsetNotificationConfig``)."""

    id: str
    name: str
    policy: ReturnedPolicy
    archived_at: str | None = None
