"""The Pulumi package schema of the native provider, generated from the models.

Nothing here lists a field again: each resource's inputs are the arguments its dynamic
resource class takes (``resources/*.py``), typed and described by the pydantic model of
the object (``models/*.py``: field types, ``Literal`` enums, attribute docstrings); the
few arguments that steer the provider and are not sent to Metronome (``adopt_existing``,
``allow_replace``, ...) take their type from the resource class and their description
from ``CONTROL_DOCS``. Nested objects are the models the fields hold (``PropertyFilter``,
``Rate``, ``Tier``, ...), with the defaults of the matching ``*Args`` class.

Property names follow Pulumi's convention: camelCase in the schema (and so in YAML,
TypeScript and Go), snake_case in the core (the dynamic providers' dict keys) and the
generated Python SDK. ``to_core`` and ``from_core`` convert a resource's values between
the two, walking the schema, so keys chosen by users (``customFields``, pricing group
values, a rate card's schedule keys, ``customRate``) are never renamed.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import types
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel

from .. import models, resources
from ..client import BASE_URL_CONFIG, BASE_URL_ENV, DEFAULT_BASE_URL, TOKEN_CONFIG, TOKEN_ENV
from ..models import RateEntry
from ..models.package import PackageSpec
from ..resources import _base
from ..resources import package as package_resource
from ..resources import product as product_resource
from ..resources import rate_card as rate_card_resource

PACKAGE_NAME = "metronome"
MODULE = "index"
#: The Python SDK's distribution and module name (``pulumi_metronome`` is this package).
PYTHON_PACKAGE = "pulumi_metronome_sdk"
NODEJS_PACKAGE = "pulumi-metronome"
GO_IMPORT_BASE = "github.com/pulumi-metronome/pulumi-metronome/sdk/go/metronome"

#: Each resource kind: its dynamic resource class (the arguments) and its model (the fields).
_KINDS: tuple[tuple[type[Any], type[BaseModel]], ...] = (
    (resources.BillableMetric, models.BillableMetricSpec),
    (resources.CustomFieldKey, models.CustomFieldKeySpec),
    (resources.Product, models.ProductSpec),
    (resources.PricingUnit, models.PricingUnitSpec),
    (resources.Alert, models.AlertSpec),
    (resources.Notification, models.NotificationSpec),
    (resources.RateCard, models.RateCardDeclaration),
    (resources.Package, PackageSpec),
)


def token_of(kind: str) -> str:
    """``BillableMetric`` -> ``metronome:index:BillableMetric``."""
    return f"{PACKAGE_NAME}:{MODULE}:{kind}"


#: Type token -> resource kind name.
TOKENS: dict[str, str] = {token_of(cls.__name__): cls.__name__ for cls, _ in _KINDS}

#: Arguments that are collections of a model but not a field of the kind's model: the
#: rate card's schedule is declared as a list of rates and stored as a map from each
#: rate's readable key (``schedule_state``) to the rate.
_SCHEDULES: dict[tuple[str, str], type[BaseModel]] = {
    ("RateCard", rate_card_resource.RATES): RateEntry,
}

_SCHEDULE_DOCS: dict[tuple[str, str], tuple[str, str]] = {
    ("RateCard", rate_card_resource.RATES): (
        "The card's schedule: each entry a price for a product from `startingAt` until "
        "`endingBefore` (or the next entry of the same product, pricing group values and "
        "billing frequency). An added or changed entry is added to the card.",
        "The schedule as stored: each rate by its readable key (`<product id> "
        "<pricing group values> <billing frequency> from <startingAt>`).",
    ),
}

#: What the arguments that steer the provider (never sent to Metronome) do.
CONTROL_DOCS: dict[str, str] = {
    _base.ADOPT: (
        "When creating, take over a live object with the same name and definition instead "
        "of creating a duplicate; a namesake with another definition, or one another "
        "resource of the stack already holds, is an error."
    ),
    _base.ALLOW_REPLACE: (
        "Allow a change that replaces the object (a new id: contracts and rate cards keep "
        "pointing at the old one, which is archived). Without it such a change fails at "
        "preview."
    ),
    product_resource.STARTING_AT: (
        "When an in-place change of the product takes effect (RFC 3339, on an hour "
        "boundary). Default: the next whole hour (UTC), so a change never rewrites the "
        "past; a time in the past applies the change retroactively."
    ),
    rate_card_resource.ALLOW_RETROACTIVE: (
        "Allow adding or changing a rate that takes effect before now (it rewrites what "
        "was already billed). Without it such a change fails at preview."
    ),
    rate_card_resource.ALLOW_REMOVAL: (
        "Allow removing a rate from the schedule. Metronome cannot delete a rate: it "
        "stays in effect in Metronome, unmanaged (listed in `unmanagedRates`)."
    ),
    package_resource.ALIAS_CUTOVER: (
        "When a replacement package takes over the aliases (RFC 3339): each alias without "
        "its own `startingAt` starts then, so contracts created by alias before it stay on "
        "the old package. Required, in the future, to replace a package with aliases."
    ),
    rate_card_resource.UNMANAGED: (
        "Keys of the rates removed from the schedule that stay in Metronome, no longer "
        "managed by the stack."
    ),
}

_CONFIG_DOCS: dict[str, str] = {
    TOKEN_CONFIG: (
        f"The Metronome API bearer token. Default: the environment variable {TOKEN_ENV}. "
        "Never stored in state."
    ),
    BASE_URL_CONFIG: (
        "The Metronome API base URL (e.g. a local Metronome-compatible server). Default: "
        f"the environment variable {BASE_URL_ENV}, else {DEFAULT_BASE_URL}."
    ),
}
_SECRET_CONFIG = frozenset({TOKEN_CONFIG})


# --- names ---------------------------------------------------------------------------------


def camel(name: str) -> str:
    """``aggregation_type`` -> ``aggregationType`` (Pulumi's schema convention)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _pascal(name: str) -> str:
    c = camel(name)
    return c[:1].upper() + c[1:]


# --- the type walk -------------------------------------------------------------------------


def _strip(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``Annotated`` and ``X | None``; True when None is allowed."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(members) < len(get_args(annotation))
            if len(members) != 1:
                raise TypeError(f"cannot describe the union {annotation!r} in the schema")
            annotation = members[0]
        else:
            return annotation, optional


@cache
def _enum_names() -> dict[tuple[str, ...], str]:
    """The ``Literal`` aliases the models name (``AggregationType = Literal[...]``), by value."""
    out: dict[tuple[str, ...], str] = {}
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith(models.__name__ + ".") or module is None:
            continue
        for name, value in vars(module).items():
            if get_origin(value) is Literal and name[:1].isupper():
                out.setdefault(tuple(get_args(value)), name)
    return out


def _args_class(model: type[BaseModel]) -> type[Any] | None:
    """The dynamic resources' ``*Args`` dataclass with exactly ``model``'s fields, if any
    (``RateArgs`` for ``RateEntry``): its name and defaults are the ones users know."""
    for name in resources.__all__:
        candidate = getattr(resources, name)
        if (
            name.endswith("Args")
            and dataclasses.is_dataclass(candidate)
            and {f.name for f in dataclasses.fields(candidate)} == set(model.model_fields)
        ):
            return candidate  # type: ignore[return-value]
    return None


def type_name(model: type[BaseModel]) -> str:
    """The schema's name of a nested model: its ``*Args`` class's name without ``Args``
    (``Rate``), else the model's own name (``CommitRate``)."""
    args = _args_class(model)
    return args.__name__.removesuffix("Args") if args is not None else model.__name__


def _doc(obj: Any) -> str:
    """A docstring as schema Markdown: one paragraph per blank line, ``x`` as `x`, and
    remarks about the dynamic provider (in parentheses) left out."""
    text = inspect.cleandoc(obj.__doc__ or "")
    text = re.sub(r" \([^()]*\bdynamic\b[^()]*\)", "", text)
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    return _markdown("\n\n".join(paragraphs))


@cache
def _property_names() -> frozenset[str]:
    """Every core property name of the resources and their nested objects."""
    names: set[str] = set()
    for resource, model in _KINDS:
        names |= set(inspect.signature(resource.__init__).parameters)
        names |= set(model.model_fields)
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(models.__name__ + ".") and module is not None:
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, models.Wire):
                    names |= set(value.model_fields)
    names |= {name for _, name in _SCHEDULES}
    return frozenset(names)


def _markdown(text: str) -> str:
    """RST literals (``name``) as Markdown code; property names in them (``in_values``,
    ``adopt_existing=True``) as the schema spells them (`inValues`, `adoptExisting: true`)."""

    def code(match: re.Match[str]) -> str:
        inner = match.group(1)
        name, equals, value = inner.partition("=")
        if name in _property_names():
            inner = camel(name)
            if equals:
                inner += ": " + {"True": "true", "False": "false"}.get(value, value)
        return f"`{inner}`"

    return re.sub(r"``([^`]+)``", code, text)


class _Builder:
    """Collects the object and enum types that the resources' properties refer to."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/types/{token_of(name)}"}

    def spec(self, annotation: Any, owner: str, field: str) -> dict[str, Any]:
        """The schema type of an annotation (``owner``/``field`` name inline enums)."""
        inner, _ = _strip(annotation)
        origin = get_origin(inner)
        if inner is Any:
            return {"$ref": "pulumi.json#/Any"}
        if origin is Literal:
            return self.ref(self.enum(tuple(get_args(inner)), owner, field))
        if origin is list:
            (item,) = get_args(inner)
            return {"type": "array", "items": self.spec(item, owner, field)}
        if origin is dict:
            _, value = get_args(inner)
            return {"type": "object", "additionalProperties": self.spec(value, owner, field)}
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return self.ref(self.object(inner))
        if isinstance(inner, type) and issubclass(inner, bool):
            return {"type": "boolean"}
        if isinstance(inner, type) and issubclass(inner, int):
            return {"type": "integer"}
        if isinstance(inner, type) and issubclass(inner, float):
            return {"type": "number"}
        if inner is AwareDatetime or (
            isinstance(inner, type) and issubclass(inner, str | datetime | date)
        ):
            return {"type": "string"}
        raise TypeError(f"{owner}.{field}: cannot describe {inner!r} in the schema")

    def enum(self, values: tuple[Any, ...], owner: str, field: str) -> str:
        name = _enum_names().get(values) or owner + _pascal(field)
        if name not in self.types:
            self.types[name] = {
                "type": "string",
                "description": f"The values `{camel(field)}` takes.",
                "enum": [{"value": v} for v in values],
            }
        return name

    def object(self, model: type[BaseModel]) -> str:
        name = type_name(model)
        if name in self.types:
            return name
        self.types[name] = {}  # reserved first: a model may refer to itself
        defaults = _defaults(_args_class(model))
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field_name, info in model.model_fields.items():
            prop = self.spec(info.annotation, name, field_name)
            prop = {**prop, **_described(info.description, model, field_name)}
            if field_name in defaults and defaults[field_name] is not None:
                prop["default"] = defaults[field_name]
            elif info.is_required():
                required.append(camel(field_name))
            properties[camel(field_name)] = prop
        self.types[name] = {
            "type": "object",
            "description": _doc(model),
            "properties": properties,
            **({"required": required} if required else {}),
        }
        return name


def _described(description: str | None, owner: Any, field: str) -> dict[str, str]:
    if not description:
        raise ValueError(f"{owner.__name__}.{field} has no description: give the field a docstring")
    return {"description": _markdown(" ".join(description.split()))}


def _defaults(args: type[Any] | None) -> dict[str, Any]:
    if args is None:
        return {}
    out = {}
    for item in dataclasses.fields(args):
        if item.default is not dataclasses.MISSING:
            out[item.name] = item.default
    return out


@dataclasses.dataclass(frozen=True)
class _Argument:
    """One argument of a resource class, as the schema sees it."""

    name: str
    annotation: Any
    #: The argument's default (``inspect.Parameter.empty``: none, so required).
    default: Any
    description: str | None
    #: True for an argument that steers the provider (not a field of the model).
    control: bool


_PLAIN_TYPES: dict[str, Any] = {"bool": bool, "str": str, "int": int, "float": float}


def _arguments(resource: type[Any], model: type[BaseModel]) -> Iterator[_Argument]:
    """The keyword arguments of the dynamic resource class, typed by the model."""
    kind = resource.__name__
    for param in inspect.signature(resource.__init__).parameters.values():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY or param.name == "opts":
            continue
        if param.name in model.model_fields:
            info = model.model_fields[param.name]
            yield _Argument(param.name, info.annotation, param.default, info.description, False)
        elif (kind, param.name) in _SCHEDULES:
            entry = _SCHEDULES[kind, param.name]
            doc = _SCHEDULE_DOCS[kind, param.name][0]
            yield _Argument(param.name, list[entry], param.default, doc, False)  # type: ignore[valid-type]
        else:
            yield _Argument(
                param.name,
                _plain_annotation(str(param.annotation), kind, param.name),
                param.default,
                CONTROL_DOCS.get(param.name),
                True,
            )


def _plain_annotation(text: str, kind: str, name: str) -> Any:
    """``bool`` / ``str | None`` (a control's annotation, a string) as a type."""
    bare = text.replace(" | None", "")
    if bare not in _PLAIN_TYPES:
        raise TypeError(f"{kind}.{name}: cannot describe {text!r} in the schema")
    return _PLAIN_TYPES[bare]


def _output_only(resource: type[Any], inputs: set[str]) -> Iterator[tuple[str, Any]]:
    """Outputs the resource class declares that are not arguments (``unmanaged_rates``)."""
    namespace = vars(sys.modules[resource.__module__])
    for name, text in inspect.get_annotations(resource).items():
        if name in inputs:
            continue
        annotation = eval(text, namespace) if isinstance(text, str) else text
        (inner,) = get_args(annotation)  # pulumi.Output[X]
        yield name, inner


def _autonamed(resource: type[Any], model: type[BaseModel]) -> str | None:
    """The argument the resource class defaults to the resource's name: one the model
    requires that the class lets users leave out (``name``; a custom field key's ``key``)."""
    for arg in _arguments(resource, model):
        field = model.model_fields.get(arg.name)
        if field is not None and field.is_required() and arg.default is None:
            return arg.name
    return None


#: Type token -> the core property that defaults to the Pulumi resource's name.
AUTONAMED: dict[str, str] = {
    token_of(r.__name__): name for r, m in _KINDS if (name := _autonamed(r, m)) is not None
}


def _resource(builder: _Builder, resource: type[Any], model: type[BaseModel]) -> dict[str, Any]:
    kind = resource.__name__
    schedules = {key for (owner, key) in _SCHEDULES if owner == kind}
    inputs: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    required_inputs: list[str] = []
    #: Outputs always set: the model's required fields, the controls (stored as booleans).
    required: list[str] = []
    arguments = list(_arguments(resource, model))
    autonamed = _autonamed(resource, model)
    for arg in arguments:
        prop = {
            **builder.spec(arg.annotation, kind, arg.name),
            **_described(arg.description, resource, arg.name),
        }
        field = model.model_fields.get(arg.name)
        if arg.default is inspect.Parameter.empty:
            required_inputs.append(camel(arg.name))
        elif arg.default is not None:
            prop["default"] = arg.default
        if arg.name == autonamed:
            prop["description"] += " Default: the resource's name."
        if (field is not None and field.is_required()) or isinstance(arg.default, bool):
            required.append(camel(arg.name))
        inputs[camel(arg.name)] = prop
        outputs[camel(arg.name)] = {k: v for k, v in prop.items() if k != "default"}
    for key in sorted(schedules):
        entry = _SCHEDULES[kind, key]
        required.append(camel(key))
        outputs[camel(key)] = {
            "type": "object",
            "additionalProperties": builder.ref(builder.object(entry)),
            "description": _SCHEDULE_DOCS[kind, key][1],
        }
    for name, annotation in _output_only(resource, {a.name for a in arguments}):
        outputs[camel(name)] = {
            **builder.spec(annotation, kind, name),
            **_described(CONTROL_DOCS.get(name), resource, name),
        }
        required.append(camel(name))
    return {
        "description": _doc(resource),
        "inputProperties": inputs,
        "requiredInputs": required_inputs,
        "properties": outputs,
        "required": sorted(required),
    }


def _config() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, doc in _CONFIG_DOCS.items():
        name = key.split(":", 1)[-1]
        out[name] = {"type": "string", "description": doc}
        if key in _SECRET_CONFIG:
            out[name]["secret"] = True
    return out


@cache
def _parts() -> tuple[dict[str, Any], dict[str, Any]]:
    """(resources by token, types by token): the version-independent part of the schema."""
    builder = _Builder()
    built = {token_of(r.__name__): _resource(builder, r, m) for r, m in _KINDS}
    return built, {token_of(name): spec for name, spec in sorted(builder.types.items())}


def package_schema(version: str) -> dict[str, Any]:
    """The full Pulumi package schema (JSON-ready) of the plugin at ``version``."""
    built, types_ = _parts()
    config = _config()
    return {
        "name": PACKAGE_NAME,
        "displayName": "Metronome",
        "version": version,
        "description": (
            "Pricing as code for Metronome, the usage-based billing platform: billable "
            "metrics, custom field keys, products and rate cards."
        ),
        "keywords": ["pulumi", "metronome", "billing", "pricing", "category/utility"],
        "license": "Apache-2.0",
        "publisher": "pulumi-metronome",
        "repository": "https://" + GO_IMPORT_BASE.removesuffix("/sdk/go/metronome"),
        "config": {"variables": config},
        "provider": {
            "description": "The provider for Metronome: where and with which token it calls.",
            "inputProperties": config,
        },
        "resources": _copy(built),
        "types": _copy(types_),
        "language": {
            "python": {
                "packageName": PYTHON_PACKAGE,
                "respectSchemaVersion": True,
                "pyproject": {"enabled": True},
                "requires": {"pulumi": ">=3.165.0,<4.0.0"},
            },
            "nodejs": {
                "packageName": NODEJS_PACKAGE,
                "respectSchemaVersion": True,
            },
            "go": {
                "importBasePath": GO_IMPORT_BASE,
                "generateResourceContainerTypes": True,
                "respectSchemaVersion": True,
            },
        },
    }


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data (callers may change what they get)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- camelCase <-> snake_case, schema-driven -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Object:
    """An object's properties: schema name <-> core name, each with its own shape."""

    to_core: dict[str, tuple[str, _Shape]]
    from_core: dict[str, tuple[str, _Shape]]


@dataclasses.dataclass(frozen=True)
class _Each:
    """A list of, or a map to, values of one shape (map keys are data: never renamed)."""

    item: _Shape


#: None: a value whose keys (if any) are data, as they are (``customRate``, Any).
_Shape = _Object | _Each | None


def _shape(spec: Mapping[str, Any], types_: Mapping[str, Any], seen: dict[str, _Object]) -> _Shape:
    ref = spec.get("$ref", "")
    if ref.startswith("#/types/"):
        target = types_[ref.removeprefix("#/types/")]
        if target.get("type") != "object":
            return None  # an enum
        key = ref
        if key not in seen:
            seen[key] = _Object({}, {})
            _fill(seen[key], target.get("properties", {}), types_, seen)
        return seen[key]
    if spec.get("type") == "array":
        return _Each(_shape(spec["items"], types_, seen))
    if spec.get("type") == "object" and "additionalProperties" in spec:
        item = _shape(spec["additionalProperties"], types_, seen)
        return None if item is None else _Each(item)
    return None


def _fill(
    obj: _Object,
    properties: Mapping[str, Any],
    types_: Mapping[str, Any],
    seen: dict[str, _Object],
) -> None:
    for schema_name, spec in properties.items():
        core_name = _snake(schema_name)
        shape = _shape(spec, types_, seen)
        known = obj.to_core.get(schema_name)
        if known is not None and known[1] != shape:
            # An input list and an output map of the same items are one shape (_Each).
            raise TypeError(f"{schema_name}: inputs and outputs disagree on its shape")
        obj.to_core[schema_name] = (core_name, shape)
        obj.from_core[core_name] = (schema_name, shape)


def _snake(name: str) -> str:
    """``aggregationType`` -> ``aggregation_type`` (the inverse of ``camel`` on our names)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


@cache
def _shapes() -> dict[str, _Object]:
    built, types_ = _parts()
    out: dict[str, _Object] = {}
    seen: dict[str, _Object] = {}
    for token, spec in built.items():
        obj = _Object({}, {})
        _fill(obj, spec["inputProperties"], types_, seen)
        _fill(obj, spec["properties"], types_, seen)
        out[token] = obj
    return out


def _resource_shape(token: str) -> _Object:
    shape = _shapes().get(token)
    if shape is None:
        known = ", ".join(sorted(TOKENS))
        raise KeyError(f"{token!r} is not a resource of this provider (known: {known})")
    return shape


def _walk(value: Any, shape: _Shape, core: bool) -> Any:
    if isinstance(shape, _Each):
        if isinstance(value, list):
            return [_walk(v, shape.item, core) for v in value]
        if isinstance(value, Mapping):
            return {k: _walk(v, shape.item, core) for k, v in value.items()}
        return value
    if isinstance(shape, _Object) and isinstance(value, Mapping):
        names = shape.to_core if core else shape.from_core
        out = {}
        for key, item in value.items():
            renamed, inner = names.get(key, (key, None))
            out[renamed] = _walk(item, inner, core)
        return out
    return value


def to_core(token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's values with schema names (``aggregationType``) as the core's
    (``aggregation_type``), nested objects included; keys the schema does not know
    (``__resource``, a misspelt argument) are kept as they are, for ``check`` to judge."""
    out: dict[str, Any] = _walk(dict(inputs), _resource_shape(token), True)
    return out


def from_core(token: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of ``to_core``: the core's names as the schema's."""
    out: dict[str, Any] = _walk(dict(values), _resource_shape(token), False)
    return out


def schema_name(token: str, core_name: str) -> str:
    """The schema's name of one of a resource's core properties (unknown names as given)."""
    return _resource_shape(token).from_core.get(core_name, (core_name, None))[0]


def core_name(token: str, name: str) -> str:
    """The core's name of one of a resource's schema properties (unknown names as given)."""
    return _resource_shape(token).to_core.get(name, (name, None))[0]


def schema_path(token: str, path: str) -> str:
    """A violation's field path in schema names: ``property_filters[1].in_values`` ->
    ``propertyFilters[1].inValues``; map keys (``pricing_group_values['model_size']``)
    are kept as they are."""
    shape: _Shape = _resource_shape(token)
    out = []
    for part in re.findall(r"\[[^\]]*\]|[^.\[]+", path):
        if part.startswith("["):
            out.append(part)
            shape = shape.item if isinstance(shape, _Each) else None
            continue
        if isinstance(shape, _Object):
            name, shape = shape.from_core.get(part, (part, None))
        else:
            name, shape = part, None
        out.append(("." if out else "") + name)
    return "".join(out)
