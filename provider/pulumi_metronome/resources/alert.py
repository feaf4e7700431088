"""``Alert``: its provider (check, diff, create, read, delete, side by side) and the
resource class a program declares.

A threshold notification on usage, spend or balances. Metronome can create and archive an
alert, never change one, so any change replaces it; that is refused at preview unless
``allow_replace=True``. Every create carries a ``uniqueness_key``: the declared one, else
one derived from the resource's name and definition (so a replacement gets a new key), so
that a create sent again after its answer was lost, or after ``pulumi up`` failed midway,
is refused by Metronome (409) instead of making a second alert. Destroy archives the alert
and releases its key.

Metronome reads an alert only through one customer (``/v1/customer-alerts/get``): an
alert for one customer (``customer_id``) is refreshed from Metronome, and imported by its
id alone (the customer it applies to is found by asking each customer); an alert for every
customer cannot be read back, so refresh keeps what the stack recorded, and import refuses
it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult

from ..errors import MetronomeError, ProviderRefusal
from ..models import ALERT_FIELDS, USD_CENTS_ID, AlertSpec, SpecError, parse_alert_spec
from ._base import (
    ALLOW_REPLACE,
    RESOURCE_KEY,
    MetronomeProvider,
    check_failures,
    found_or_none,
    is_unknown,
    plain,
    resource_of,
    stored,
    unexpected_arguments,
    validate_declaration,
)
from .diffs import DiffPlan, plan
from .ownership import Ownership

ALERTS = Ownership("alert")
KEY = "uniqueness_key"
#: Fields the customer's view of an alert does not return: kept as the stack recorded them.
NOT_RETURNED = ("billable_metric_id", "customer_id", "evaluate_on_create", "plan_id")


def default_key(resource: str | None, fields: Mapping[str, Any]) -> str:
    """The uniqueness key of a declaration that sets none: the same for the same resource
    name and definition, another for any change (a replacement is a new alert)."""
    body = {k: v for k, v in fields.items() if k != KEY and v is not None}
    text = json.dumps({"resource": resource, "alert": body}, sort_keys=True)
    return "pulumi-" + hashlib.sha256(text.encode()).hexdigest()[:40]


class AlertProvider(MetronomeProvider):
    """A threshold notification: every change replaces it (with opt-in)."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(key, "is not an argument of Alert")
            for key in unexpected_arguments(news, (*ALERT_FIELDS, ALLOW_REPLACE))
        ]
        data = {k: news[k] for k in ALERT_FIELDS if news.get(k) is not None}
        unknown = frozenset(k for k, v in data.items() if is_unknown(v))
        try:
            spec = parse_alert_spec(data, unknown=unknown)
        except SpecError as error:
            return CheckResult(news, failures + check_failures(error.violations))
        if unknown:
            return CheckResult(news, failures)
        if spec.uniqueness_key is None:
            state = spec.to_state()
            spec = spec.model_copy(update={KEY: default_key(resource_of(news), state)})
        if olds and not news.get(ALLOW_REPLACE):
            changed = [f for f in ALERT_FIELDS if f != KEY and olds.get(f) != spec.to_state()[f]]
            if changed:
                failures.append(
                    CheckFailure(
                        changed[0],
                        f"changing {', '.join(changed)} replaces the alert: Metronome "
                        "cannot change an alert, so a new one is created and the old one "
                        "archived (customers already alerted may be alerted again). Set "
                        "allow_replace=True to replace it.",
                    )
                )
        if failures:
            return CheckResult(news, failures)
        return CheckResult(self._outs(spec, news), [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """Every changed field replaces the alert. A replacement that keeps a declared
        uniqueness key archives the old alert (releasing the key) before creating the new."""
        ALERTS.see(id_, resource_of(news), "diff", str(news.get("name") or ""))
        replaces = sorted(f for f in ALERT_FIELDS if olds.get(f) != news.get(f))
        same_key = olds.get(KEY) == news.get(KEY)
        return plan(olds, news, replaces=replaces, updates=(), delete_before_replace=same_key)

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = AlertSpec.from_state(props)
        try:
            alert_id = self.client.create_alert(spec)
        except MetronomeError as error:
            if error.status != 409:
                raise
            raise ProviderRefusal(
                f"an alert with uniqueness_key {spec.uniqueness_key!r} already exists in "
                "Metronome: an earlier create of this alert went through but its id was "
                "not recorded. Nothing new was created. Find its id in Metronome and run "
                "`pulumi import`, or archive it and run again."
            ) from None
        ALERTS.see(alert_id, resource_of(props), "create")
        return CreateResult(alert_id, self._outs(spec, props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        ALERTS.see(id_, resource_of(props), "read", str(props.get("name") or ""))
        customer_id = props.get("customer_id")
        if not isinstance(customer_id, str):
            if props.get("alert_type"):
                # An alert for every customer cannot be read back: keep what was recorded.
                return ReadResult(id_, dict(props))
            # Imported by its id alone: find the one customer it applies to.
            customer_id = self._customer_of(id_)
            if customer_id is None:
                return ReadResult(None, {})
            props = {**props, "customer_id": customer_id}
        got = found_or_none(lambda i: self.client.get_customer_alert(customer_id, i), id_)
        if got is None or got.alert.status == "archived":
            return ReadResult(None, {})
        live = got.alert
        fields: dict[str, Any] = {k: props.get(k) for k in NOT_RETURNED}
        fields |= {
            "alert_type": live.type,
            "name": live.name,
            "threshold": live.threshold,
            "access_type": live.access_type,
            "alert_specifiers": live.alert_specifiers,
            "credit_grant_type_filters": live.credit_grant_type_filters,
            "credit_type_id": None
            if live.credit_type is None or live.credit_type.id == USD_CENTS_ID
            else live.credit_type.id,
            "custom_field_filters": live.custom_field_filters,
            "group_values": live.group_values,
            "invoice_types_filter": live.invoice_types_filter,
            "seat_filter": live.seat_filter,
            KEY: live.uniqueness_key,
        }
        if props.get("credit_type_id") == USD_CENTS_ID:
            fields["credit_type_id"] = USD_CENTS_ID
        spec = AlertSpec.from_state(fields)
        outs = self._outs(spec, props)
        return ReadResult(id_, outs, inputs=dict(outs))

    def _customer_of(self, id_: str) -> str | None:
        """The customer an alert imported by its id applies to: Metronome reads an alert
        only through a customer and never says whose it is, so every customer is asked
        (one call each) until a second one sees it. Seen by none: gone. Seen by two (or
        by the only customer): an alert for every customer, refused, as it could not be
        refreshed afterwards."""
        seen: list[str] = []
        customers = 0
        for customer_id in self.client.list_customer_ids():
            customers += 1
            got = found_or_none(functools.partial(self.client.get_customer_alert, customer_id), id_)
            if got is not None:
                seen.append(customer_id)
            if len(seen) > 1:
                break
        if not seen:
            return None
        if len(seen) > 1 or customers == 1:
            raise ProviderRefusal(
                f"alert {id_} cannot be imported: it applies to every customer (or Metronome "
                "cannot tell, with a single customer), and Metronome reads an alert only "
                "through one customer, so it could not be refreshed; declare it instead "
                "(the next `pulumi up` creates it) and archive this one"
            )
        return seen[0]

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Archive, releasing the key (Metronome has no delete); gone counts as deleted."""
        self.end(ALERTS, id_, props, self.client.archive_alert)

    @staticmethod
    def _outs(spec: AlertSpec, props: Mapping[str, Any]) -> dict[str, Any]:
        return stored(spec.to_state(), props, ALLOW_REPLACE)


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    parse_alert_spec({k: v for k, v in known.items() if k in ALERT_FIELDS}, unknown=unknown)


class Alert(pulumi.dynamic.Resource, module="metronome", name="Alert"):
    """A threshold notification: Metronome alerts when a customer's usage, spend or
    balance crosses ``threshold`` (its meaning depends on ``alert_type``).

    Metronome cannot change an alert: any change replaces it and is refused at preview
    unless ``allow_replace=True``. Each create carries a ``uniqueness_key`` (declared, or
    derived from the resource's name and definition), so a create sent twice never makes
    two alerts. Destroying archives the alert and releases its key. Only an alert with a
    ``customer_id`` can be refreshed from Metronome or imported.
    """

    alert_type: pulumi.Output[str]
    name: pulumi.Output[str]
    threshold: pulumi.Output[float]
    uniqueness_key: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        alert_type: pulumi.Input[str],
        threshold: pulumi.Input[float],
        name: pulumi.Input[str] | None = None,
        access_type: pulumi.Input[str] | None = None,
        alert_specifiers: pulumi.Input[Sequence[Any]] | None = None,
        billable_metric_id: pulumi.Input[str] | None = None,
        credit_grant_type_filters: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        credit_type_id: pulumi.Input[str] | None = None,
        custom_field_filters: pulumi.Input[Sequence[Any]] | None = None,
        customer_id: pulumi.Input[str] | None = None,
        evaluate_on_create: pulumi.Input[bool] | None = None,
        group_values: pulumi.Input[Sequence[Any]] | None = None,
        invoice_types_filter: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        plan_id: pulumi.Input[str] | None = None,
        seat_filter: pulumi.Input[Mapping[str, Any]] | None = None,
        uniqueness_key: pulumi.Input[str] | None = None,
        allow_replace: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "alert_type": alert_type,
            "name": resource_name if name is None else name,
            "threshold": threshold,
            "access_type": access_type,
            "alert_specifiers": plain(alert_specifiers),
            "billable_metric_id": billable_metric_id,
            "credit_grant_type_filters": plain(credit_grant_type_filters),
            "credit_type_id": credit_type_id,
            "custom_field_filters": plain(custom_field_filters),
            "customer_id": customer_id,
            "evaluate_on_create": evaluate_on_create,
            "group_values": plain(group_values),
            "invoice_types_filter": plain(invoice_types_filter),
            "plan_id": plan_id,
            "seat_filter": plain(seat_filter),
            "uniqueness_key": uniqueness_key,
        }
        invalid = validate_declaration("Alert", resource_name, props, _validate)
        props[ALLOW_REPLACE] = allow_replace
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(AlertProvider(), resource_name, props, opts)
