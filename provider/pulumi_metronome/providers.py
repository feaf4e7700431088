"""What Pulumi does with a declaration: check, diff, create, read, update, delete.

These classes live in an importable module so that ``pulumi.dynamic.Resource`` pickles them
*by reference*: the serialized ``__provider`` is a few bytes naming the class, a code
change takes effect at once, and nothing (no token, no session) is captured in state.
Credentials arrive in ``configure`` from the stack config, or from the environment.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime import rpc

from .client import MetronomeClient, MetronomeError
from .models import (
    IMMUTABLE_FIELDS,
    MUTABLE_FIELDS,
    BillableMetricSpec,
    CustomFieldKeySpec,
    SpecError,
    parse_metric_spec,
    parse_model,
)

ENTITY = "billable_metric"
SPEC_FIELDS: tuple[str, ...] = tuple(BillableMetricSpec.model_fields)
#: Inputs that steer the provider and are not sent to Metronome.
ADOPT = "adopt_existing"
PROVIDER_KEY = "__provider"
TOKEN_CONFIG = "metronome:bearerToken"
BASE_URL_CONFIG = "metronome:baseUrl"


def _unknown(value: Any) -> bool:
    """True if ``value`` is, or holds, a value not known until apply (preview).

    Through the engine, ``pulumi.dynamic`` deserializes check/diff inputs with
    ``keep_unknowns=True``: an unknown arrives as a ``pulumi.output.Unknown`` instance, not
    as the ``rpc.UNKNOWN`` sentinel string (accepted too, for direct calls).
    """
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_unknown(v) for v in value)
    return False


def _as_text(value: Any) -> Any:
    """A number where Metronome wants a string: ``200`` (or ``200.0``, as Pulumi sends
    integers) becomes ``"200"``, so ``in_values=[200]`` and ``["200"]`` never diff."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


def _coerce_numbers(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)

    def texts(values: Any) -> Any:
        return [_as_text(v) for v in values] if isinstance(values, list) else values

    def filter_(item: Any) -> Any:
        if not isinstance(item, Mapping):
            return item
        fixed = dict(item)
        for key in ("in_values", "not_in_values"):
            if key in fixed:
                fixed[key] = texts(fixed[key])
        return fixed

    if "event_type_filter" in out:
        out["event_type_filter"] = filter_(out["event_type_filter"])
    if isinstance(out.get("property_filters"), list):
        out["property_filters"] = [filter_(f) for f in out["property_filters"]]
    if isinstance(out.get("custom_fields"), Mapping):
        out["custom_fields"] = {k: _as_text(v) for k, v in out["custom_fields"].items()}
    return out


def _failures(error: SpecError) -> list[CheckFailure]:
    return [CheckFailure(v.field or "name", v.message) for v in error.violations]


def _spec_props(spec: BillableMetricSpec) -> dict[str, Any]:
    """The stored form of a metric: canonical, every field present (None when unset)."""
    return spec.canonical().model_dump(mode="json")


def _spec_from(props: Mapping[str, Any]) -> BillableMetricSpec:
    return parse_metric_spec({k: props[k] for k in SPEC_FIELDS if props.get(k) is not None})


def _empty_as_none(value: Any) -> Any:
    return None if value in ({}, []) else value


class _MetronomeProvider(ResourceProvider):
    """Shared plumbing: credentials from ``configure`` and one lazily built client."""

    #: Nothing secret is ever captured, so the serialized provider need not be a secret.
    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        # Whatever a configured instance holds (the token, the client), pickle none of it.
        return {}

    def configure(self, req: ConfigureRequest) -> None:
        self._token = req.config.get(TOKEN_CONFIG) or None
        self._base_url = req.config.get(BASE_URL_CONFIG) or None

    @property
    def client(self) -> MetronomeClient:
        """Built on first use: check and diff never need credentials or the network."""
        client = self.__dict__.get("_client")
        if client is None:
            with _CLIENT_LOCK:
                client = self.__dict__.get("_client")
                if client is None:
                    client = MetronomeClient(
                        self.__dict__.get("_token"), self.__dict__.get("_base_url")
                    )
                    self._client = client
        return client


_CLIENT_LOCK = threading.Lock()


#: Ids of the metrics this stack manages, as seen in this provider process (one process
#: serves a whole `pulumi up`, and the engine diffs every managed resource before it creates
#: replacements). Adoption never takes one of these: a replacement's new metric, created
#: while the old one is still live under the same name, must not "adopt" its predecessor.
_MANAGED_METRIC_IDS: set[str] = set()


class BillableMetricProvider(_MetronomeProvider):
    """A Metronome billable metric: rename and custom fields in place, the rest replaces."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(key, "is not an argument of BillableMetric")
            for key in news
            if key not in SPEC_FIELDS and key not in (ADOPT, PROVIDER_KEY)
        ]
        data = _coerce_numbers({k: news[k] for k in SPEC_FIELDS if news.get(k) is not None})
        unknown = frozenset(k for k, v in data.items() if _unknown(v))
        try:
            spec = parse_metric_spec(data, unknown=unknown)
        except SpecError as error:
            return CheckResult(news, failures + _failures(error))
        if failures:
            return CheckResult(news, failures)
        inputs = _spec_props(spec)
        inputs.update({k: data[k] for k in unknown})
        inputs[ADOPT] = bool(news.get(ADOPT) or False)
        return CheckResult(inputs, [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        _MANAGED_METRIC_IDS.add(id_)

        def differs(field: str) -> bool:
            return _empty_as_none(olds.get(field)) != _empty_as_none(news.get(field))

        replaces = sorted(f for f in IMMUTABLE_FIELDS if differs(f))
        updates = sorted(f for f in MUTABLE_FIELDS if differs(f))
        return DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = _spec_from(props)
        metric_id = self._adopt(spec) if props.get(ADOPT) else None
        if metric_id is None:
            metric_id = self.client.create_billable_metric(spec)
        return CreateResult(metric_id, self._outs(spec, props))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _MANAGED_METRIC_IDS.add(id_)
        spec = _spec_from(news)
        if olds.get("name") != spec.name:
            self.client.rename_billable_metric(id_, spec.name)
        self._sync_custom_fields(id_, olds.get("custom_fields") or {}, spec.custom_fields or {})
        return UpdateResult(self._outs(spec, news))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        """Archive: Metronome has no delete. Already archived or gone counts as deleted."""
        try:
            self.client.archive_billable_metric(id_)
        except MetronomeError as error:
            if not error.not_found:
                raise

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        _MANAGED_METRIC_IDS.add(id_)
        try:
            metric = self.client.get_billable_metric(id_)
        except MetronomeError as error:
            if error.not_found:
                return ReadResult(None, {})
            raise
        if metric.archived_at is not None:
            # Archived outside Pulumi: report it gone so that the next `up` recreates it.
            return ReadResult(None, {})
        outs = self._outs(metric.spec, props)
        return ReadResult(id_, outs, inputs=dict(outs))

    # ------------------------------------------------------------------------ helpers

    @staticmethod
    def _outs(spec: BillableMetricSpec, props: Mapping[str, Any]) -> dict[str, Any]:
        outs = _spec_props(spec)
        outs[ADOPT] = bool(props.get(ADOPT) or False)
        return outs

    def _sync_custom_fields(
        self, metric_id: str, old: Mapping[str, str], new: Mapping[str, str]
    ) -> None:
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        removed = sorted(k for k in old if k not in new)
        if changed:
            self.client.set_custom_field_values(ENTITY, metric_id, changed)
        if removed:
            self.client.delete_custom_field_values(ENTITY, metric_id, removed)

    def _adopt(self, spec: BillableMetricSpec) -> str | None:
        """The id of the live metric this declaration describes, if there is one.

        Same name and same definition: adopt it (and bring its custom fields in line).
        Same name, other definition: refuse, rather than create a look-alike duplicate.
        Metrics this stack already manages are never adopted (see ``_MANAGED_METRIC_IDS``).
        """
        namesakes = [
            m
            for m in self.client.list_billable_metrics()
            if m.name == spec.name and m.id not in _MANAGED_METRIC_IDS
        ]
        if not namesakes:
            return None
        matches = [m for m in namesakes if m.spec.definition == spec.definition]
        if len(matches) > 1:
            ids = ", ".join(m.id for m in matches)
            raise MetronomeError(
                f"cannot adopt billable metric {spec.name!r}: {len(matches)} live metrics have "
                f"this name and definition ({ids}); archive the extra ones first"
            )
        if not matches:
            found = namesakes[0]
            theirs, ours = found.spec.definition, spec.definition
            fields = sorted(f for f in theirs.keys() | ours.keys() if theirs.get(f) != ours.get(f))
            raise MetronomeError(
                f"cannot adopt billable metric {spec.name!r} ({found.id}): it exists with a "
                f"different definition ({', '.join(fields)} differ: live {theirs} vs declared "
                f"{ours}); declare it as it is, or give the new metric another name"
            )
        found = matches[0]
        self._sync_custom_fields(found.id, found.custom_fields or {}, spec.custom_fields or {})
        return found.id


class CustomFieldKeyProvider(_MetronomeProvider):
    """A key on an entity kind's custom-field allow list. Every change replaces it."""

    FIELDS: tuple[str, ...] = tuple(CustomFieldKeySpec.model_fields)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(key, "is not an argument of CustomFieldKey")
            for key in news
            if key not in self.FIELDS and key not in (ADOPT, PROVIDER_KEY)
        ]
        data = {k: news[k] for k in self.FIELDS if news.get(k) is not None}
        if any(_unknown(v) for v in data.values()):
            return CheckResult(news, failures)
        data.setdefault("entity", ENTITY)
        data.setdefault("enforce_uniqueness", False)
        try:
            spec = parse_model(CustomFieldKeySpec, data)
        except SpecError as error:
            return CheckResult(news, failures + _failures(error))
        if failures:
            return CheckResult(news, failures)
        return CheckResult(
            {**spec.model_dump(mode="json"), ADOPT: bool(news.get(ADOPT) or False)}, []
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = sorted(f for f in self.FIELDS if olds.get(f) != news.get(f))
        # The same key cannot be on the list twice: remove the old one first.
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = parse_model(CustomFieldKeySpec, {k: props[k] for k in self.FIELDS})
        try:
            self.client.add_custom_field_key(spec)
        except MetronomeError as error:
            existing = self._find(spec.entity, spec.key) if error.status == 400 else None
            if existing is None:
                raise
            if not props.get(ADOPT) or existing != spec:
                raise MetronomeError(
                    f"custom field key {spec.key!r} already exists for {spec.entity} "
                    f"(enforce_uniqueness={existing.enforce_uniqueness}); set "
                    f"adopt_existing=True with the same enforce_uniqueness to manage it",
                    status=error.status,
                ) from None
        return CreateResult(self._id(spec), {**props, ADOPT: bool(props.get(ADOPT))})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        found = self._find(props["entity"], props["key"])
        if found is None:
            return ReadResult(None, {})
        outs = {**found.model_dump(mode="json"), ADOPT: bool(props.get(ADOPT))}
        return ReadResult(id_, outs, inputs=dict(outs))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            self.client.remove_custom_field_key(props["entity"], props["key"])
        except MetronomeError as error:
            if not error.not_found:
                raise

    def _find(self, entity: str, key: str) -> CustomFieldKeySpec | None:
        for item in self.client.list_custom_field_keys([entity]):
            if item.entity == entity and item.key == key:
                return item
        return None

    @staticmethod
    def _id(spec: CustomFieldKeySpec) -> str:
        return f"{spec.entity}/{spec.key}"
