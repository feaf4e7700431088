"""``Notification``: its provider (check, diff, create, read, update, delete, side by side)
and the resource class a program declares.

An offset lifecycle event notification: a webhook Metronome sends ``policy.offset`` before
or after a lifecycle event of type ``policy.type``. Metronome edits only the policy, and
never its type: so ``policy.offset`` changes in place, while a change of ``name`` or
``policy.type`` replaces the notification, refused at preview unless
``allow_replace=True``. Each create carries a ``uniqueness_key`` (declared, or derived from
the resource's name and definition) so a create sent twice never makes two
notifications; Metronome keeps an archived notification's key, so a replacement needs a
new one. Destroy archives the notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from ..errors import MetronomeError, ProviderRefusal
from ..models import NOTIFICATION_FIELDS, NotificationEdit, NotificationSpec
from ._base import (
    ALLOW_REPLACE,
    RESOURCE_KEY,
    MetronomeProvider,
    found_or_none,
    parse_declaration,
    plain,
    resource_of,
    stored,
    validate_declaration,
)
from .alert import default_key
from .diffs import DiffPlan, plan
from .ownership import Ownership

NOTIFICATIONS = Ownership("notification")
KEY = "uniqueness_key"


def _event_type(props: Mapping[str, Any]) -> Any:
    policy = props.get("policy")
    return policy.get("type") if isinstance(policy, Mapping) else None


def _replaced(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The fields whose change replaces the notification."""
    out = ["name"] if olds.get("name") != news.get("name") else []
    if _event_type(olds) != _event_type(news):
        out.append("policy")
    return out


class NotificationProvider(MetronomeProvider):
    """An offset notification: the offset changes in place; the rest replaces (opt-in)."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        spec, failures = parse_declaration(
            "Notification", news, NOTIFICATION_FIELDS, NotificationSpec.from_state
        )
        if spec is None:
            return CheckResult(news, failures)
        if spec.uniqueness_key is None:
            key = default_key(resource_of(news), spec.to_state())
            spec = spec.model_copy(update={KEY: key})
        state = spec.to_state()
        replaced = _replaced(olds, state) if olds.get("name") else []
        if replaced and not news.get(ALLOW_REPLACE):
            failures.append(
                CheckFailure(
                    replaced[0],
                    f"changing {' and '.join(replaced)} replaces the notification: "
                    "Metronome edits only a notification's offset, so a new one is created "
                    "and the old one archived. Set allow_replace=True to replace it.",
                )
            )
        elif replaced and news.get(KEY) is not None and news.get(KEY) == olds.get(KEY):
            failures.append(
                CheckFailure(
                    KEY,
                    "a replacement needs a new uniqueness key: Metronome keeps the key of "
                    "the archived notification; declare another one or leave it unset",
                )
            )
        if failures:
            return CheckResult(news, failures)
        return CheckResult(self._outs(spec, news), [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """``name`` and ``policy.type`` replace; ``policy.offset`` changes in place. The
        uniqueness key only matters when creating: never a reason to change."""
        NOTIFICATIONS.see(id_, resource_of(news), "diff", str(news.get("name") or ""))
        replaces = _replaced(olds, news)
        updates = (
            [] if "policy" in replaces or olds.get("policy") == news.get("policy") else ["policy"]
        )
        return plan(olds, news, replaces=replaces, updates=updates)

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = NotificationSpec.from_state(props)
        try:
            created = self.client.create_notification(spec)
        except MetronomeError as error:
            if error.status != 409:
                raise
            raise ProviderRefusal(
                f"a notification with uniqueness_key {spec.uniqueness_key!r} already exists "
                "in Metronome: an earlier create of it went through but its id was not "
                "recorded. Nothing new was created. Run `pulumi import` with its id (listed "
                "by /v2/notifications/offset/list), or archive it and declare another key."
            ) from None
        NOTIFICATIONS.see(created.id, resource_of(props), "create")
        return CreateResult(created.id, self._outs(spec, props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        NOTIFICATIONS.see(id_, resource_of(props), "read", str(props.get("name") or ""))
        live = found_or_none(self.client.get_notification, id_)
        if live is None or live.archived_at is not None:
            return ReadResult(None, {})
        spec = NotificationSpec.from_state(
            {"name": live.name, "policy": live.policy.model_dump(), KEY: props.get(KEY)}
        )
        outs = self._outs(spec, props)
        return ReadResult(id_, outs, inputs=dict(outs))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = NotificationSpec.from_state(news)
        if olds.get("policy") != spec.to_state()["policy"]:
            self.client.edit_notification(NotificationEdit(id=id_, policy=spec.policy))
        return UpdateResult(self._outs(spec, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Archive (Metronome has no delete); already archived or gone counts as deleted."""
        self.end(NOTIFICATIONS, id_, props, self.client.archive_notification)

    @staticmethod
    def _outs(spec: NotificationSpec, props: Mapping[str, Any]) -> dict[str, Any]:
        return stored(spec.to_state(), props, ALLOW_REPLACE)


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    if not unknown:
        NotificationSpec.from_state(known)


class Notification(pulumi.dynamic.Resource, module="metronome", name="Notification"):
    """An offset lifecycle event notification: a webhook Metronome sends ``policy.offset``
    (an ISO-8601 duration, negative for before) from a lifecycle event of type
    ``policy.type`` (e.g. 7 days before ``contract.end``).

    ``policy.offset`` changes in place; a change of ``name`` or ``policy.type`` replaces
    the notification and is refused at preview unless ``allow_replace=True``. Each create
    carries a ``uniqueness_key``, so a create sent twice never makes two notifications.
    Destroying archives the notification.
    """

    name: pulumi.Output[str]
    policy: pulumi.Output[dict[str, str]]
    uniqueness_key: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        policy: pulumi.Input[Mapping[str, pulumi.Input[str]]],
        name: pulumi.Input[str] | None = None,
        uniqueness_key: pulumi.Input[str] | None = None,
        allow_replace: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "name": resource_name if name is None else name,
            "policy": plain(policy),
            "uniqueness_key": uniqueness_key,
        }
        invalid = validate_declaration("Notification", resource_name, props, _validate)
        props[ALLOW_REPLACE] = allow_replace
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(NotificationProvider(), resource_name, props, opts)
