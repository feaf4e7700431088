"""The native plugin's front end: Pulumi's gRPC requests in, the resource core's calls out.

Nothing here decides anything about Metronome: each request is adapted (property values to
plain values with the core's snake_case names, the resource name from the URN, unknowns to
the core's marker), handed to the kind's core provider (the same classes the dynamic
provider runs, in ``pulumi_metronome.resources``), and the answer adapted back (camelCase
names, a rate card's schedule a list in inputs and a map by key in outputs, check failures
per camelCase property, the diff with its detailed entries). The core is blocking
(``requests``): each call runs in a thread of a pool much larger than the engine's
parallelism, so ``pulumi up`` of many resources is not held to a few at a time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pulumi.provider.experimental import provider as px
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime import rpc

from ..errors import ProviderRefusal
from ..resources import (
    AlertProvider,
    BillableMetricProvider,
    CustomFieldKeyProvider,
    NotificationProvider,
    PackageProvider,
    PricingUnitProvider,
    ProductProvider,
    RateCardProvider,
)
from ..resources._base import RESOURCE_KEY, MetronomeProvider, is_unknown
from ..resources.diffs import DiffKind, DiffPlan, Path
from ..resources.rate_card import RATES, schedule_by_key
from . import schema

T = TypeVar("T")

#: Threads serving the core's blocking calls: more than the engine usually runs at once
#: (``pulumi up --parallel``), so requests do not queue here.
MAX_THREADS = 64
#: The core provider of each kind (the dynamic providers' classes).
CORES: dict[str, type[MetronomeProvider]] = {
    "Alert": AlertProvider,
    "BillableMetric": BillableMetricProvider,
    "CustomFieldKey": CustomFieldKeyProvider,
    "Notification": NotificationProvider,
    "PricingUnit": PricingUnitProvider,
    "Product": ProductProvider,
    "RateCard": RateCardProvider,
    "Package": PackageProvider,
}
TOKEN_ARG = "bearerToken"
BASE_URL_ARG = "baseUrl"
_TO_PULUMI_KIND = {kind: px.PropertyDiffKind[kind.value] for kind in DiffKind}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- values -----------------------------------------------------------------------------


def plain(value: PropertyValue) -> Any:
    """A property value as the core takes it: secrets unwrapped, unknowns as the core's
    marker (``rpc.UNKNOWN``), numbers as floats (as the dynamic provider receives them)."""
    inner = value.value
    if isinstance(inner, Computed):
        return rpc.UNKNOWN
    if isinstance(inner, Mapping):
        return {k: plain(v) for k, v in inner.items()}
    if isinstance(inner, tuple | list):
        return [plain(v) for v in inner]
    return inner


def plain_map(values: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {k: plain(v) for k, v in values.items()}


def property_value(value: Any) -> PropertyValue:
    """A plain value from the core as a property value."""
    if value is None:
        return PropertyValue.null()
    if isinstance(value, bool | str):
        # The core's unknown marker stays the marker string: it is how the engine reads an
        # unknown, and the SDK (3.272) cannot marshal ``PropertyValue.computed()``.
        return PropertyValue(value)
    if isinstance(value, int | float):
        return PropertyValue(float(value))
    if isinstance(value, Mapping):
        return PropertyValue({str(k): property_value(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return PropertyValue([property_value(v) for v in value])
    raise TypeError(f"no property value for {type(value).__name__}")


def secret_names(values: Mapping[str, PropertyValue]) -> frozenset[str]:
    """Top-level properties holding a secret anywhere: their outputs stay secret."""
    return frozenset(k for k, v in values.items() if v.contains_secret())


def name_of(urn: str) -> str:
    """The resource name: the last part of the URN."""
    return urn.split("::")[-1]


class Kind:
    """One resource kind: its token, its core provider and how its values are adapted."""

    def __init__(self, token: str, core: MetronomeProvider) -> None:
        self.token = token
        self.name = schema.TOKENS[token]
        self.core = core

    def to_core(self, values: Mapping[str, PropertyValue], urn: str) -> dict[str, Any]:
        """Request values in the core's form, with the resource name for ownership."""
        data = schema.to_core(self.token, plain_map(values))
        if self.name == "RateCard" and RATES in data:
            # Declared as a list, stored as a map (whose order a protobuf Struct loses):
            # either way, the map by key in the schedule's order.
            rates = data[RATES]
            if isinstance(rates, Mapping) and not is_unknown(rates):
                rates = list(rates.values())
            data[RATES] = schedule_by_key(rates)
        data[RESOURCE_KEY] = name_of(urn)
        return data

    def from_core(
        self,
        values: Mapping[str, Any],
        secrets: frozenset[str] = frozenset(),
        *,
        inputs: bool = False,
    ) -> dict[str, PropertyValue]:
        """Core values as the plugin's properties. A rate card's schedule is a map by
        readable key in outputs (as the dynamic provider stores it) and, in ``inputs``, the
        list of its entries in the order of their keys, as a program declares it."""
        data = {k: v for k, v in values.items() if k != RESOURCE_KEY}
        if inputs and self.name == "RateCard" and isinstance(data.get(RATES), Mapping):
            data[RATES] = list(data[RATES].values())
        named = schema.from_core(self.token, data)
        out = {k: property_value(v) for k, v in named.items()}
        return {k: v.with_secret(True) if k in secrets else v for k, v in out.items()}

    def camel(self, field: str) -> str:
        """A core field name as the schema names it."""
        return schema.schema_name(self.token, field) if field else field

    def reason(self, field: str, reason: str) -> str:
        """A check failure's reason in the schema's names: its leading path
        (``group_keys[0].in_values: ...``), and the properties the rule's words name
        (``set allow_replace=True`` -> ``set allowReplace: true``); quoted values (a
        user's property or key names) stay as they are."""
        path, colon, rest = reason.partition(": ")
        if field and colon and (path == field or path.startswith((f"{field}[", f"{field}."))):
            reason = f"{schema.schema_path(self.token, path)}: {rest}"
        return _SNAKE_WORD.sub(_renamed, reason)

    def diff_path(self, path: Path, olds: Mapping[str, Any], news: Mapping[str, Any]) -> str:
        """A detailed-diff path in the plugin's terms: ``rates[3]`` (the index in the new
        schedule, or in the old one for a removed entry), ``customFields.team``."""
        head = self.camel(path[0])
        if len(path) == 1:
            return head
        key = path[1]
        if path[0] == RATES:
            new_keys = list(news.get(RATES) or {})
            old_keys = list(olds.get(RATES) or {})
            index = new_keys.index(key) if key in new_keys else old_keys.index(key)
            return f"{head}[{index}]"
        if _IDENTIFIER.match(key):
            return f"{head}.{key}"
        return f"{head}[{json.dumps(key)}]"


def _property_names(document: Mapping[str, Any]) -> frozenset[str]:
    """Every property name of the schema (resources and types)."""
    names: set[str] = set()
    for section in ("resources", "types"):
        for spec in document.get(section, {}).values():
            for key in ("inputProperties", "properties"):
                names.update(spec.get(key, {}))
    return frozenset(names)


_NAMES = _property_names(schema.package_schema("0.0.0"))
#: A snake_case word not inside quotes, optionally set to True (``allow_replace=True``).
_SNAKE_WORD = re.compile(r"(?<!['\"\w])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(=True)?(?![\w'\"])")


def _renamed(match: re.Match[str]) -> str:
    name = schema.camel(match.group(1))
    if name not in _NAMES:
        return match.group(0)
    return f"{name}: true" if match.group(2) else name


# --- the provider -----------------------------------------------------------------------


class MetronomeNativeProvider(px.Provider):
    """Serves ``metronome:index:*`` resources with the resource core."""

    def __init__(self, version: str, *, max_threads: int = MAX_THREADS) -> None:
        self.version = version
        self.kinds = {token: Kind(token, CORES[name]()) for token, name in schema.TOKENS.items()}
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="metronome")

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(call, *args))

    def _kind(self, urn: str) -> Kind:
        token = urn.split("::")[-2].split("$")[-1] if "::" in urn else urn
        found = self.kinds.get(token)
        if found is None:
            known = ", ".join(sorted(self.kinds))
            raise ProviderRefusal(f"unknown resource type {token!r}; this plugin serves {known}")
        return found

    async def get_schema(self, request: px.GetSchemaRequest) -> px.GetSchemaResponse:
        return px.GetSchemaResponse(json.dumps(schema.package_schema(self.version)))

    async def configure(self, request: px.ConfigureRequest) -> px.ConfigureResponse:
        """The token and base URL from the provider's config (``metronome:bearerToken``,
        ``metronome:baseUrl``), else the environment (``METRONOME_BEARER_TOKEN``,
        ``METRONOME_BASE_URL``), as the dynamic provider takes them."""
        token = _setting(request, TOKEN_ARG)
        base_url = _setting(request, BASE_URL_ARG)
        for kind in self.kinds.values():
            kind.core.use_credentials(token, base_url)
        # Secrets: the engine strips them from inputs and marks the outputs of secret
        # inputs secret itself. Unknowns arrive as the plain marker, never as outputs.
        return px.ConfigureResponse(
            accept_secrets=False,
            supports_preview=False,
            accept_resources=False,
            accept_outputs=False,
        )

    async def check(self, request: px.CheckRequest) -> px.CheckResponse:
        kind = self._kind(request.urn)
        olds = kind.to_core(request.old_inputs, request.urn) if request.old_inputs else {}
        news = kind.to_core(request.new_inputs, request.urn)
        # Inline, not in the pool: check and plan never touch the network (the core
        # builds its client on first use by create, read, update or delete), and the
        # engine sends them one resource at a time, so a thread hop would only add its
        # wake-up to every resource of a preview.
        result = kind.core.check(olds, news)
        failures = [
            px.CheckFailure(kind.camel(f.property), kind.reason(f.property, f.reason))
            for f in result.failures or []
        ]
        if failures:
            return px.CheckResponse(inputs=request.new_inputs, failures=failures)
        secrets = secret_names(request.new_inputs)
        inputs = kind.from_core(result.inputs or {}, secrets, inputs=True)
        return px.CheckResponse(inputs=inputs, failures=[])

    async def diff(self, request: px.DiffRequest) -> px.DiffResponse:
        kind = self._kind(request.urn)
        olds = kind.to_core(request.old_state, request.urn)
        news = kind.to_core(request.new_inputs, request.urn)
        decided: DiffPlan = kind.core.plan(request.resource_id, olds, news)
        detailed = {
            kind.diff_path(path, olds, news): px.PropertyDiff(_TO_PULUMI_KIND[change], True)
            for path, change in decided.detailed.items()
        }
        return px.DiffResponse(
            changes=decided.changes,
            replaces=[kind.camel(f) for f in decided.replaces],
            delete_before_replace=decided.delete_before_replace,
            diffs=sorted({path.split(".")[0].split("[")[0] for path in detailed}),
            detailed_diff=detailed,
        )

    async def create(self, request: px.CreateRequest) -> px.CreateResponse:
        kind = self._kind(request.urn)
        props = kind.to_core(request.properties, request.urn)
        result = await self._run(kind.core.create, props)
        return px.CreateResponse(
            str(result.id), kind.from_core(result.outs or {}, secret_names(request.properties))
        )

    async def read(self, request: px.ReadRequest) -> px.ReadResponse:
        """A refresh, or ``pulumi import`` (the id alone): the live object, and inputs in
        exactly the form ``check`` writes, so the next preview shows no change."""
        kind = self._kind(request.urn)
        props = kind.to_core(request.properties, request.urn)
        result = await self._run(kind.core.read, request.resource_id, props)
        if not result.id:
            return px.ReadResponse(resource_id=None, properties={}, inputs={})
        secrets = secret_names(request.properties)
        return px.ReadResponse(
            resource_id=str(result.id),
            properties=kind.from_core(dict(result.outs or {}), secrets),
            inputs=kind.from_core(result.inputs or {}, secrets, inputs=True),
        )

    async def update(self, request: px.UpdateRequest) -> px.UpdateResponse:
        kind = self._kind(request.urn)
        olds = kind.to_core(request.olds, request.urn)
        news = kind.to_core(request.news, request.urn)
        result = await self._run(kind.core.update, request.resource_id, olds, news)
        return px.UpdateResponse(kind.from_core(result.outs or {}, secret_names(request.news)))

    async def delete(self, request: px.DeleteRequest) -> None:
        kind = self._kind(request.urn)
        props = kind.to_core(request.properties, request.urn)
        await self._run(kind.core.delete, request.resource_id, props)


def _setting(request: px.ConfigureRequest, name: str) -> str | None:
    """A provider setting from the config arguments, else the namespaced variables."""
    value = request.args.get(name)
    if value is not None and isinstance(value.value, str) and value.value:
        return value.value
    return request.variables.get(f"{schema.PACKAGE_NAME}:{name}") or None


__all__ = ["CORES", "MAX_THREADS", "MetronomeNativeProvider"]
